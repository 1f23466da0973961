"""Staff login for the admin page and the agent console.

Views call `staff_user(request, role)`: it returns the logged-in user, or raises
NotAuthenticated (the middleware sends pages to the login form) or Forbidden
(wrong role, or an unsafe request without the session's CSRF token).
"""
import hmac
from typing import Optional

from aiohttp import web

from bot.shop import accounts
from bot.shop.db import LoginSession, StaffUser
from bot.errors import Forbidden, NotAuthenticated
from bot.web.limits import refuse_if_limited
from bot.web.resources import LIMITS, SHOP, client_address
from bot.web.templating import render

SESSION_COOKIE = "shop_staff_session"
HOME_OF_ROLE = {"seller": "/admin", "agent": "/agent"}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def current_login(request: web.Request) -> Optional[LoginSession]:
    if "login" not in request:
        request["login"] = accounts.session_of(request.app[SHOP].sessions, request.cookies.get(SESSION_COOKIE, ""))
    return request["login"]


async def staff_user(request: web.Request, role: Optional[str] = None) -> StaffUser:
    login = current_login(request)
    if login is None:
        raise NotAuthenticated("Please log in.")
    if role is not None and login.user.role != role:
        raise Forbidden(f"This page is for the {role} role; you are logged in as {login.user.role}.")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token") or (await request.post()).get("csrf_token", "")
        if not hmac.compare_digest(str(sent), login.csrf_token):
            raise Forbidden("The form has expired (missing or wrong CSRF token); reload the page and try again.")
    return login.user


def _safe_next(target: str, role: str) -> str:
    # Only paths on this site: never redirect a login to another host.
    return target if target.startswith("/") and not target.startswith("//") else HOME_OF_ROLE[role]


async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", next=request.query.get("next", ""), error="")


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username", ""))
    limits = request.app[LIMITS]
    # Failed logins count per username and per address; at the limit, no password is even checked.
    failures = [(limits.login_failures_per_username, username[:200]), (limits.login_failures_per_address, client_address(request))]
    refuse_if_limited(failures, "Too many failed logins. Please wait {minutes} minutes and try again.")
    token = accounts.log_in(request.app[SHOP].sessions, username, str(form.get("password", "")))
    if token is None:
        for limit, key in failures:
            limit.record(key)
        return render(request, "login.html", next=form.get("next", ""), error="Wrong username or password.", status=401)
    role = accounts.session_of(request.app[SHOP].sessions, token).user.role
    redirect = web.HTTPSeeOther(_safe_next(str(form.get("next", "")), role))
    redirect.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/", max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
    )
    raise redirect


async def logout(request: web.Request) -> web.Response:
    await staff_user(request)
    accounts.log_out(request.app[SHOP].sessions, request.cookies[SESSION_COOKIE])
    redirect = web.HTTPSeeOther("/login")
    redirect.del_cookie(SESSION_COOKIE, path="/")
    raise redirect


async def me(request: web.Request) -> web.Response:
    """Who is logged in, and the CSRF token their scripts send as `X-CSRF-Token`."""
    user = await staff_user(request)
    return web.json_response({
        "username": user.username, "display_name": user.display_name, "role": user.role,
        "csrf_token": current_login(request).csrf_token,
    })
