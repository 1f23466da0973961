"""Runtime configuration, read once from the environment.

Every setting has a default for the embedded mode (SQLite, all processes on
127.0.0.1, the seller's files inside the project); production sets DATABASE_URL
to PostgreSQL. Tests point DATA_DIR, MODELS_DIR and SHOP_SETTINGS at copies so
that the admin page's edits never touch the project's own files.
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Tuple

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    database_url: str
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_port: int = 5055
    web_port: int = 8080
    # The Rasa HTTP API token (`make run` makes one up when RASA_TOKEN is unset).
    rasa_token: str = ""
    project_dir: Path = PROJECT_DIR
    # Rasa training data (data/faq/ holds the seller's FAQ files) and trained models.
    data_dir: Path = PROJECT_DIR / "data"
    models_dir: Path = PROJECT_DIR / "models"
    shop_settings_file: Path = PROJECT_DIR / "shop.yml"
    # The web service's rate limits (bot/web/limits.py): shopper messages per minute, failed staff
    # logins per 15 minutes. Tests set low ones.
    chat_limit_per_sender: int = 20
    chat_limit_per_address: int = 60
    login_failures_per_username: int = 5
    login_failures_per_address: int = 20
    # The answer to a failed order verification waits this long, doubling with each failure in a row.
    verification_delay_seconds: float = 1.0
    # Production (`python -m bot run --production`, README "Production"): Rasa's SQL tracker store
    # (a PostgreSQL URL) and Rasa's Redis lock store (redis://host:port/db). Empty: the embedded
    # tracker store of endpoints.yml.
    tracker_store_url: str = ""
    lock_store_url: str = ""
    # How many Rasa servers run, on consecutive ports from rasa_port: one a core (a Rasa server
    # computes on one), each conversation kept on its own (bot/rasa/client.py).
    rasa_servers: int = 2
    # Shopper messages the web service lets each Rasa server work on at once; the others wait
    # their turn, first come first served (bot/rasa/client.py).
    rasa_messages_at_once: int = 2

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Config":
        return cls(
            database_url=environ.get("DATABASE_URL", f"sqlite:///{PROJECT_DIR / 'var' / 'shop.db'}"),
            host=environ.get("HOST", "127.0.0.1"),
            rasa_port=int(environ.get("RASA_PORT", 5005)),
            actions_port=int(environ.get("ACTIONS_PORT", 5055)),
            web_port=int(environ.get("WEB_PORT", 8080)),
            rasa_token=environ.get("RASA_TOKEN", ""),
            data_dir=Path(environ.get("DATA_DIR", PROJECT_DIR / "data")),
            models_dir=Path(environ.get("MODELS_DIR", PROJECT_DIR / "models")),
            shop_settings_file=Path(environ.get("SHOP_SETTINGS", PROJECT_DIR / "shop.yml")),
            chat_limit_per_sender=int(environ.get("CHAT_LIMIT_PER_SENDER", 20)),
            chat_limit_per_address=int(environ.get("CHAT_LIMIT_PER_ADDRESS", 60)),
            login_failures_per_username=int(environ.get("LOGIN_FAILURES_PER_USERNAME", 5)),
            login_failures_per_address=int(environ.get("LOGIN_FAILURES_PER_ADDRESS", 20)),
            verification_delay_seconds=float(environ.get("VERIFICATION_DELAY_SECONDS", 1.0)),
            tracker_store_url=environ.get("TRACKER_STORE_URL", ""),
            lock_store_url=environ.get("LOCK_STORE_URL", ""),
            rasa_servers=max(1, int(environ.get("RASA_SERVERS", 2))),
            rasa_messages_at_once=max(1, int(environ.get("RASA_MESSAGES_AT_ONCE", 2))),
        )

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def rasa_urls(self) -> Tuple[str, ...]:
        """Every Rasa server's URL: RASA_SERVERS of them on consecutive ports from rasa_port."""
        return tuple(f"http://{self.host}:{self.rasa_port + i}" for i in range(self.rasa_servers))

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def faq_dir(self) -> Path:
        return self.data_dir / "faq"

    @property
    def faq_training_file(self) -> Path:
        return self.data_dir / "nlu" / "faq.yml"

    @property
    def spacy_pipeline_dir(self) -> Path:
        return self.project_dir / "build" / "spacy" / "en_shop"
