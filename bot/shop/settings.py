"""The seller's rules from shop.yml, validated into a frozen ShopSettings."""
import os
import tempfile
from dataclasses import dataclass
from typing import Tuple
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.shop.hours import WorkingHours, WorkingHoursError, parse_working_hours
from bot.shop.rules import RETURN_REASONS, AutoApprovalRule

BUYER_CANCELLATION_MODES = ("request", "instant")
DEFAULT_CHAT_WELCOME = "Hi! I'm the shop's assistant. Ask me anything, or pick a question below."
MAX_CHAT_WELCOME_LENGTH = 1000


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class HandoffRules:
    """When the bot hands a conversation to a person besides being asked to."""

    fallbacks_in_a_row: int = 2
    # topic -> phrases; a shopper message containing one goes straight to an agent.
    sensitive: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    # topic -> example sentences; a message close in meaning to one goes to an agent too,
    # unless it is closer still to one of the ordinary questions the bot answers itself.
    sensitive_examples: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    ordinary_examples: Tuple[str, ...] = ()
    # The least cosine similarity (all-MiniLM-L6-v2) to a sensitive example that counts.
    sensitive_similarity: float = 0.45


def _texts(value: object, field: str, what: str, path: Path) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(text, str) and text.strip() for text in value):
        raise SettingsError(f"{path}: `{field}` must be a list of {what}")
    return tuple(" ".join(text.split()) for text in value)


def _topics(document: dict, key: str, what: str, path: Path) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    topics = document.get(key) or {}
    if not isinstance(topics, dict):
        raise SettingsError(f"{path}: `handoff.{key}` must map each topic to a list of {what}")
    return tuple((str(topic), _texts(texts, f"handoff.{key}.{topic}", what, path)) for topic, texts in topics.items())


def _handoff_rules(document: object, path: Path) -> HandoffRules:
    document = document or {}
    if not isinstance(document, dict):
        raise SettingsError(f"{path}: `handoff` must be a mapping")
    similarity = document.get("sensitive_similarity", HandoffRules.sensitive_similarity)
    if isinstance(similarity, bool) or not isinstance(similarity, (int, float)) or not 0 < similarity <= 1:
        raise SettingsError(f"{path}: `handoff.sensitive_similarity` must be a number above 0 and at most 1, not {similarity!r}")
    return HandoffRules(
        fallbacks_in_a_row=max(1, _positive_int(document, "fallbacks_in_a_row", 2, path)),
        sensitive=tuple(
            (topic, tuple(phrase.lower() for phrase in phrases)) for topic, phrases in _topics(document, "sensitive", "phrases", path)
        ),
        sensitive_examples=_topics(document, "sensitive_examples", "sentences", path),
        ordinary_examples=_texts(document.get("ordinary_examples") or [], "handoff.ordinary_examples", "sentences", path),
        sensitive_similarity=float(similarity),
    )


@dataclass(frozen=True)
class ShopSettings:
    shop: str
    name: str
    self_shipping_deadline_days: int = 12
    at_risk_days: int = 3
    return_window_days: int = 15
    buyer_cancellation: str = "request"
    platform_auto_approval_hours: int = 24
    return_auto_approval: AutoApprovalRule = AutoApprovalRule()
    # The first message of every conversation, above the welcome FAQs' buttons.
    chat_welcome: str = DEFAULT_CHAT_WELCOME
    working_hours: WorkingHours = WorkingHours()
    handoff: HandoffRules = HandoffRules()


def _positive_int(document: dict, key: str, default: int, path: Path) -> int:
    value = document.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SettingsError(f"{path}: `{key}` must be a whole number of 0 or more, not {value!r}")
    return value


def load_settings(path: Path) -> ShopSettings:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(f"{path}: cannot read shop settings: {error}") from error
    if not isinstance(document, dict) or not document.get("shop"):
        raise SettingsError(f"{path}: expected a mapping with at least `shop` (the shop's slug)")
    cancellation = document.get("buyer_cancellation", "request")
    if cancellation not in BUYER_CANCELLATION_MODES:
        raise SettingsError(f"{path}: `buyer_cancellation` must be one of {BUYER_CANCELLATION_MODES}")
    rule = document.get("return_auto_approval") or {}
    reasons = tuple(rule.get("reasons") or ())
    unknown = set(reasons) - set(RETURN_REASONS)
    if unknown:
        raise SettingsError(f"{path}: unknown return reasons {sorted(unknown)}; known: {', '.join(RETURN_REASONS)}")
    try:
        max_amount_cents = round(float(rule.get("max_amount", 0)) * 100)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{path}: `return_auto_approval.max_amount` must be a number") from error
    chat_welcome = str(document.get("chat_welcome") or DEFAULT_CHAT_WELCOME).strip()
    if len(chat_welcome) > MAX_CHAT_WELCOME_LENGTH:
        raise SettingsError(f"{path}: `chat_welcome` is longer than {MAX_CHAT_WELCOME_LENGTH} characters")
    try:
        working_hours = parse_working_hours(document.get("working_hours"), str(path))
    except WorkingHoursError as error:
        raise SettingsError(str(error)) from error
    return ShopSettings(
        shop=str(document["shop"]),
        name=str(document.get("name") or document["shop"]),
        self_shipping_deadline_days=_positive_int(document, "self_shipping_deadline_days", 12, path),
        at_risk_days=_positive_int(document, "at_risk_days", 3, path),
        return_window_days=_positive_int(document, "return_window_days", 15, path),
        buyer_cancellation=cancellation,
        platform_auto_approval_hours=_positive_int(document, "platform_auto_approval_hours", 24, path),
        return_auto_approval=AutoApprovalRule(
            enabled=bool(rule.get("enabled", False)),
            max_amount_cents=max_amount_cents,
            reasons=reasons,
            max_days_since_delivery=_positive_int(rule, "max_days_since_delivery", 0, path),
        ),
        chat_welcome=chat_welcome,
        working_hours=working_hours,
        handoff=_handoff_rules(document.get("handoff"), path),
    )


def write_setting(path: Path, key: str, value: object) -> None:
    """Change one top-level setting of shop.yml, keeping the seller's comments and layout.

    The result is validated before it replaces the file (atomically), so a bad value
    is refused and the settings in service stay as they were.
    """
    yaml_round_trip = YAML()  # ruamel keeps comments, order and quoting
    path = Path(path)
    document = yaml_round_trip.load(path.read_text(encoding="utf-8"))
    document[key] = LiteralScalarString(value) if isinstance(value, str) and "\n" in value else value
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False) as handle:
        yaml_round_trip.dump(document, handle)
    try:
        load_settings(Path(handle.name))
    except SettingsError as error:
        os.unlink(handle.name)
        raise SettingsError(str(error).replace(handle.name, str(path))) from error
    os.replace(handle.name, path)
