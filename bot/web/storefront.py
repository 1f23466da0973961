"""The storefront side of the web service: the chat widget's script (`/widget.js`, the one
script tag a seller pastes into a store page), its look (`GET /api/chat/widget`, set on the
admin page) and the demo storefront (`/`) that embeds it.

The demo storefront can sign a shopper in as one of the demo customers (`/?customer=cust-emma`):
it renders the customer's signed identity (bot/shop/identity.py) into the page as a real
storefront would, never the secret. It does so only while the shop signs with the demo's
public secret: with a real one (SHOP_IDENTITY_SECRET) anybody could otherwise read any
customer's orders through this page.
"""
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import ServiceUnavailable
from bot.shop import db, demo
from bot.shop.identity import signed_identity
from bot.web.resources import FAQ_STORE, SHOP
from bot.web.templating import render

WIDGET_SCRIPT = Path(__file__).parent / "static" / "widget.js"
# Stores cache the script for a few minutes, then revalidate it (ETag): a new version reaches
# every store page within that time.
WIDGET_CACHE_SECONDS = 300
IDENTITY_SECONDS = 3600
SHOWCASE_PRODUCTS = 6


async def widget_script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WIDGET_SCRIPT, headers={
        "Content-Type": "application/javascript; charset=utf-8",
        "Cache-Control": f"public, max-age={WIDGET_CACHE_SECONDS}",
        "X-Content-Type-Options": "nosniff",
        # Store pages on other sites load it with a plain <script src>.
        "Cross-Origin-Resource-Policy": "cross-origin",
    })


async def widget_look(request: web.Request) -> web.Response:
    """The widget's look as the seller set it, and the welcome FAQs it opens with."""
    look = request.app[SHOP].settings.widget
    welcome = [{"id": faq.id, "title": faq.question} for faq in request.app[FAQ_STORE].all() if faq.enabled and faq.welcome]
    return web.json_response({**look.as_json(), "welcome_faqs": welcome}, headers={"Cache-Control": "no-cache"})


def _demo_sign_in(request: web.Request) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The identity secret if the shop signs with the demo's public one (else None), and the
    demo customers one may sign in as: (customer id, name)."""
    shop = request.app[SHOP]
    showcase = [person.external_id for person in demo.SHOWCASE_PEOPLE]
    with shop.sessions() as session:
        secret = session.get(db.Shop, shop.shop_id).identity_secret
        if secret != demo.DEMO_IDENTITY_SECRET:
            return None, []
        customers = session.query(db.Customer).filter(
            db.Customer.shop_id == shop.shop_id, db.Customer.external_id.in_(showcase),
        ).all()
        found = {customer.external_id: customer.name for customer in customers}
    return secret, [(customer_id, found[customer_id]) for customer_id in showcase if customer_id in found]


def _price(cents: int) -> str:
    return f"€{cents // 100}.{cents % 100:02d}"


async def storefront_page(request: web.Request) -> web.Response:
    """A small demo shop that embeds the widget with the script tag a seller pastes."""
    settings = request.app[SHOP].settings
    wanted = request.query.get("customer", "")
    try:
        secret, customers = _demo_sign_in(request)
        database_up = True
    except (SQLAlchemyError, ServiceUnavailable):  # the shop's window still opens; the chat says what is wrong
        secret, customers, database_up = None, [], False
    identity: Optional[Dict[str, Any]] = None
    signed_in = None
    notice = ""
    if wanted:
        names = dict(customers)
        if wanted in names and secret is not None:
            identity = signed_identity(secret, wanted, int(time.time()) + IDENTITY_SECONDS)
            signed_in = names[wanted]
        elif not database_up:
            notice = "Signing in is not possible right now."
        elif secret is None:
            notice = "The demo sign-in is off: this shop signs its customers with its own secret."
        else:
            notice = f"There is no demo customer {wanted!r}."
    products = [(product.name, _price(product.price_cents)) for product in demo.CATALOGUE[:SHOWCASE_PRODUCTS]]
    return render(
        request, "storefront.html", shop_name=settings.name, products=products, customers=customers,
        signed_in=signed_in, signed_in_id=wanted if signed_in else "", identity=identity, notice=notice,
    )
