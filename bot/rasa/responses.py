"""The bot's wording (domain.yml `responses`) for code outside Rasa: the web
service fills the same templates when it suggests replies to an agent."""
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")  # Rasa's own placeholder syntax


def load_responses(domain_file: Path) -> Dict[str, List[Dict[str, Any]]]:
    return yaml.safe_load(Path(domain_file).read_text(encoding="utf-8"))["responses"]


def fill_response(
    responses: Dict[str, List[Dict[str, Any]]], name: str, values: Dict[str, Any], language: Optional[str] = None,
) -> str:
    """Response `name` as Rasa would say it to a shopper whose `language` slot has this value:
    the variation for that language if there is one, else the first; placeholders filled like
    Rasa fills them."""
    variations = responses[name]
    chosen = next((v for v in variations if language and _language_of(v) == language), variations[0])
    return _PLACEHOLDER.sub(lambda match: str(values.get(match.group(1), match.group(0))), chosen["text"])


def _language_of(variation: Dict[str, Any]) -> Optional[str]:
    """The `language` slot value a variation's condition asks for (domain.yml), if any."""
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == "language":
            return condition.get("value")
    return None
