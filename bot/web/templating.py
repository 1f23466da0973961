"""Server-rendered pages: Jinja2 templates with HTML autoescaping."""
from pathlib import Path

import jinja2
from aiohttp import web

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    login = request.get("login")
    html = _ENVIRONMENT.get_template(template).render(
        user=login.user if login else None, csrf_token=login.csrf_token if login else "", request=request, **context
    )
    return web.Response(text=html, status=status, content_type="text/html")
