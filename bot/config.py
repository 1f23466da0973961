"""Runtime configuration, read once from the environment.

Every setting has a default for the embedded mode (SQLite, all processes on
127.0.0.1); production sets DATABASE_URL to PostgreSQL.
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    database_url: str
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_port: int = 5055
    web_port: int = 8080
    project_dir: Path = PROJECT_DIR

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Config":
        return cls(
            database_url=environ.get("DATABASE_URL", f"sqlite:///{PROJECT_DIR / 'var' / 'shop.db'}"),
            host=environ.get("HOST", "127.0.0.1"),
            rasa_port=int(environ.get("RASA_PORT", 5005)),
            actions_port=int(environ.get("ACTIONS_PORT", 5055)),
            web_port=int(environ.get("WEB_PORT", 8080)),
        )

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def faq_dir(self) -> Path:
        return self.project_dir / "data" / "faq"

    @property
    def faq_training_file(self) -> Path:
        return self.project_dir / "data" / "nlu" / "faq.yml"

    @property
    def shop_settings_file(self) -> Path:
        return self.project_dir / "shop.yml"

    @property
    def spacy_pipeline_dir(self) -> Path:
        return self.project_dir / "build" / "spacy" / "en_shop"
