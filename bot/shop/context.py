"""The shop a process serves: its settings file, its database, and its id in that database.

Each process holds one ShopContext (the web service in `app.cleanup_ctx`, the action server
in actions/desk.py, each command of bot/cli.py): the engine is created once and disposed on
`close`, shop.yml is read with SettingsFile's reload rule, and the shop is looked up once.
"""
from typing import Optional, Tuple

from sqlalchemy.orm import sessionmaker

from bot.config import Config
from bot.errors import ServiceUnavailable
from bot.shop import db
from bot.shop.settings import SettingsFile, ShopSettings


class ShopContext:
    def __init__(self, config: Config):
        self.config = config
        self.settings_file = SettingsFile(config.shop_settings_file)
        self._engine = db.make_engine(config.database_url)
        self.sessions: sessionmaker = db.make_session_factory(self._engine)
        self._shop: Optional[Tuple[str, int]] = None  # (slug, id) once found

    def __enter__(self) -> "ShopContext":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    @property
    def settings(self) -> ShopSettings:
        """shop.yml as it is now (or its last valid version)."""
        return self.settings_file.current()

    @property
    def shop_id(self) -> int:
        """The database id of the shop that shop.yml names, looked up once (again only if the
        slug in shop.yml changes). ServiceUnavailable while the shop is not in the database."""
        slug = self.settings.shop
        if self._shop is None or self._shop[0] != slug:
            with self.sessions() as session:
                shop = db.get_shop(session, slug)
            if shop is None:
                raise ServiceUnavailable(f"The shop {slug!r} is not in the database; run `make setup`.")
            self._shop = (slug, shop.id)
        return self._shop[1]
