"""Domain errors become HTTP errors here, and only here; every error is JSON for /api."""
import logging

from aiohttp import web

from bot.errors import DomainError, NotFound, ServiceUnavailable, InvalidInput

log = logging.getLogger(__name__)

STATUS_OF = {InvalidInput: 400, NotFound: 404, ServiceUnavailable: 503}


def _error_response(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.startswith("/api/") or request.path == "/health":
        return web.json_response({"error": message}, status=status)
    return web.Response(text=f"{status}: {message}", status=status)


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except DomainError as error:
        status = next(code for kind, code in STATUS_OF.items() if isinstance(error, kind))
        return _error_response(request, status, str(error))
    except web.HTTPRequestEntityTooLarge:
        return _error_response(request, 413, "The request is too large.")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error_response(request, error.status, error.reason)
    except Exception:  # the last line of defence: log it, answer plainly
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(request, 500, "Internal error; it has been logged.")
