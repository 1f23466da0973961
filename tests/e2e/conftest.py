"""The whole product (`python -m bot run`), started once for the end-to-end tests."""
import os

import pytest
import yaml

from bot.config import PROJECT_DIR
from bot.shop.hours import WEEKDAYS

from tests.e2e.shop_web import PRODUCT_TOKEN, Web, free_ports, start_product, stop_product


@pytest.fixture(scope="session")
def product_home(tmp_path_factory):
    """Copies of the seller's files (FAQs, shop.yml) and of the newest model, for the product
    under test: tests may edit them."""
    import shutil

    from bot.files import newest_model

    home = tmp_path_factory.mktemp("product")
    shutil.copytree(PROJECT_DIR / "data", home / "data")
    # The team is in at any hour, so that what a test sees does not depend on when it runs
    # (while the team is away, the bot goes on answering after a handoff); tests that need
    # other hours set them.
    settings = yaml.safe_load((PROJECT_DIR / "shop.yml").read_text())
    settings["working_hours"].update(weekly={day: ["00:00-24:00"] for day in WEEKDAYS}, exceptions={})
    (home / "shop.yml").write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    (home / "models").mkdir()
    shutil.copy(newest_model(PROJECT_DIR / "models"), home / "models")
    return home


@pytest.fixture(scope="session")
def product(product_home):
    """`python -m bot run` on free ports, with its own database and the copies of `product_home`."""
    import subprocess
    import sys

    home = product_home
    ports = {"RASA_PORT": free_ports(2), "ACTIONS_PORT": free_ports(), "WEB_PORT": free_ports()}  # two Rasa servers
    env = {
        **os.environ, **{k: str(v) for k, v in ports.items()}, "DATABASE_URL": f"sqlite:///{home / 'shop.db'}",
        "DATA_DIR": str(home / "data"), "SHOP_SETTINGS": str(home / "shop.yml"), "MODELS_DIR": str(home / "models"),
        "RASA_TOKEN": PRODUCT_TOKEN,
        # All other tests share the loopback address: room for them, and quick verification slow-downs (test_abuse.py).
        "CHAT_LIMIT_PER_ADDRESS": "500", "VERIFICATION_DELAY_SECONDS": "0.25",
    }
    subprocess.run([sys.executable, "-m", "bot", "db-setup"], env=env, cwd=PROJECT_DIR, check=True)
    process, output, children = start_product(env)
    assert "Shop assistant is up" in output, output
    yield process, ports, output
    stop_product(process, children)  # unless the Ctrl-C test stopped it already


@pytest.fixture(scope="session")
def web(product):
    return Web(product[1])


# --- a real browser: Debian's chromium driven by Playwright (never `playwright install`) ---

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = PROJECT_DIR / "results" / "screenshots"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser(product):
    # Per module: Playwright's sync API holds an event loop while it runs, which async tests
    # elsewhere must not find.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    # A fresh browser context per test (its own cookies and storage), closed at its end so
    # that its polling stops with it.
    context = browser.new_context()
    yield context.new_page()
    context.close()


def screenshot(page, name: str) -> None:
    """Save the page as a test artifact: results/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
