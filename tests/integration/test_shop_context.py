"""The shop context each process holds (bot/shop/context.py): the shop looked up once, and a
clear error while it is not in the database."""
from dataclasses import replace

import pytest

from bot.errors import ServiceUnavailable
from bot.shop import context as context_module
from bot.shop.context import ShopContext


def test_the_shop_is_looked_up_once(seller_files, monkeypatch):
    lookups = []
    original = context_module.db.get_shop
    monkeypatch.setattr(context_module.db, "get_shop", lambda session, slug: lookups.append(slug) or original(session, slug))
    with ShopContext(seller_files) as shop:
        assert shop.shop_id == shop.shop_id == shop.shop_id
    assert lookups == ["demo"]


def test_a_shop_missing_from_the_database_says_to_set_it_up(config, tmp_path):
    (tmp_path / "shop.yml").write_text("shop: nowhere\n")
    with ShopContext(replace(config, shop_settings_file=tmp_path / "shop.yml")) as shop:
        with pytest.raises(ServiceUnavailable, match="'nowhere' is not in the database; run `make setup`"):
            shop.shop_id
