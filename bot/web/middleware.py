"""Domain errors become HTTP errors here, and only here: JSON for the APIs, a page for people."""
import logging
import math

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import (
    Conflict, DomainError, Forbidden, InvalidInput, NotAuthenticated, NotFound, ServiceUnavailable, TooManyRequests,
    UnsupportedMediaType,
)
from bot.shop.settings import SettingsError
from bot.web.templating import render

log = logging.getLogger(__name__)

STATUS_OF = {
    InvalidInput: 400, NotAuthenticated: 401, Forbidden: 403, NotFound: 404, Conflict: 409, UnsupportedMediaType: 415,
    TooManyRequests: 429, ServiceUnavailable: 503,
}


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path == "/health"


def _error_response(request: web.Request, status: int, message: str) -> web.Response:
    if _is_api(request):
        return web.json_response({"error": message}, status=status)
    return render(request, "error.html", status=status, message=message, back=request.headers.get("Referer", "/"))


# A store on another site embeds the chat: its page calls these with the browser key in a header
# (no cookies cross-site), so any origin may, and nothing else of the service is open to it.
CROSS_SITE_PATHS = ("/api/chat", "/widget.js")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": "Content-Type, X-Chat-Key", "Access-Control-Expose-Headers": "Retry-After",
    "Access-Control-Max-Age": "600",
}


@web.middleware
async def cors_middleware(request: web.Request, handler):
    if not request.path.startswith(CROSS_SITE_PATHS):
        return await handler(request)
    if request.method == "OPTIONS":  # the browser's preflight
        return web.Response(status=204, headers=CORS_HEADERS)
    response = await handler(request)
    response.headers.update(CORS_HEADERS)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except NotAuthenticated as error:
        if _is_api(request) or request.method != "GET":
            return _error_response(request, 401, str(error))
        raise web.HTTPSeeOther(request.app.router["login"].url_for().with_query(next=request.path_qs))
    except DomainError as error:
        status = next(code for kind, code in STATUS_OF.items() if isinstance(error, kind))
        response = _error_response(request, status, str(error))
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(math.ceil(error.retry_after))
        return response
    except SettingsError:  # shop.yml was never valid since the service started (else the last valid one serves)
        log.exception("invalid shop settings on %s %s", request.method, request.path)
        return _error_response(request, 503, "The shop's settings (shop.yml) are invalid; the seller has been told in the logs.")
    except SQLAlchemyError:
        log.exception("database error on %s %s", request.method, request.path)
        return _error_response(request, 503, "The shop's database is not reachable right now; please try again shortly.")
    except web.HTTPRequestEntityTooLarge:
        return _error_response(request, 413, "The request is too large.")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error_response(request, error.status, error.reason)
    except Exception:  # the last line of defence: log it, answer plainly
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(request, 500, "Internal error; it has been logged.")
