"""Domain errors, raised by the service layer and mapped to HTTP by the web middleware."""


class DomainError(Exception):
    """Base of the errors a user can be told about."""


class InvalidInput(DomainError):
    """The request itself is wrong (too long, malformed, missing a field)."""


class NotFound(DomainError):
    """The thing asked for does not exist, or is not the asker's to see."""


class ServiceUnavailable(DomainError):
    """A service the request needs (Rasa, the database) does not answer."""


class Conflict(DomainError):
    """Someone else changed the thing since the user loaded it, or it is taken."""


class NotAuthenticated(DomainError):
    """The page or API needs a login."""


class Forbidden(DomainError):
    """Not the asker's to do: a role that may not, a missing CSRF token, another browser's conversation."""


class UnsupportedMediaType(DomainError):
    """The request body is not in the format the endpoint takes (e.g. not JSON)."""


class TooManyRequests(DomainError):
    """Too many requests from one sender, address or username lately; `retry_after` says how many seconds to wait."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after
