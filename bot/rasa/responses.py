"""The bot's wording (domain.yml `responses`) for code outside Rasa: the web
service fills the same templates when it suggests replies to an agent."""
import re
from pathlib import Path
from typing import Any, Dict, List

import yaml

_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")  # Rasa's own placeholder syntax


def load_responses(domain_file: Path) -> Dict[str, List[Dict[str, Any]]]:
    return yaml.safe_load(Path(domain_file).read_text(encoding="utf-8"))["responses"]


def fill_response(responses: Dict[str, List[Dict[str, Any]]], name: str, values: Dict[str, Any]) -> str:
    """The first variant of response `name`, placeholders filled like Rasa fills them."""
    text = responses[name][0]["text"]
    return _PLACEHOLDER.sub(lambda match: str(values.get(match.group(1), match.group(0))), text)
