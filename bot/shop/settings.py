"""The seller's rules from shop.yml, validated into a frozen ShopSettings.

`load_settings` reads and validates the file once; a running process reads it through a
`SettingsFile`, which re-reads it when it changes and keeps the last valid version when a
seller's edit breaks it. `SettingsFile.write` changes one setting.
"""
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.files import write_atomically
from bot.shop.hours import WorkingHours, WorkingHoursError, parse_working_hours
from bot.shop.rules import AutoApprovalRule
from bot.shop.vocabulary import BUYER_CANCELLATION_MODES, CANCEL_ON_REQUEST, RETURN_REASONS

DEFAULT_CHAT_WELCOME = "Hi! I'm the shop's assistant. Ask me anything, or pick a question below."
MAX_CHAT_WELCOME_LENGTH = 1000
# The storefront chat widget's look (`widget:`), when shop.yml does not set it.
DEFAULT_WIDGET_TITLE = "Chat with us"
DEFAULT_WIDGET_COLOUR = "#2c5cc5"
WIDGET_POSITIONS = ("right", "left")
MAX_WIDGET_TITLE_LENGTH = 60
WIDGET_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")

log = logging.getLogger(__name__)


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
class WidgetLook:
    """How the storefront chat widget looks (bot/web/static/widget.js): the panel's title, its
    colour (#rrggbb, lower-case) and the corner of the page it sits in."""

    title: str = DEFAULT_WIDGET_TITLE
    colour: str = DEFAULT_WIDGET_COLOUR
    position: str = "right"

    def as_json(self) -> dict:
        return {"title": self.title, "colour": self.colour, "position": self.position}


def _widget_look(document: object, path: Path) -> WidgetLook:
    if document is None:
        return WidgetLook()
    if not isinstance(document, dict):
        raise SettingsError(f"{path}: `widget` must be a mapping with `title`, `colour` and `position`")
    unknown = sorted(str(key) for key in document if key not in ("title", "colour", "position"))
    if unknown:
        raise SettingsError(f"{path}: unknown `widget` settings {unknown}; known: title, colour, position")
    title = document.get("title", DEFAULT_WIDGET_TITLE)
    if not isinstance(title, str):
        raise SettingsError(f"{path}: `widget.title` must be a text, not {title!r}")
    if not title.strip():
        raise SettingsError(f"{path}: `widget.title` must not be empty")
    title = " ".join(title.split())
    if len(title) > MAX_WIDGET_TITLE_LENGTH:
        raise SettingsError(f"{path}: `widget.title` is longer than {MAX_WIDGET_TITLE_LENGTH} characters")
    colour = document.get("colour", DEFAULT_WIDGET_COLOUR)
    if colour is None:  # `colour: #2c5cc5` unquoted: YAML reads a comment
        raise SettingsError(f'{path}: `widget.colour` is empty; write it in quotes, like "#2c5cc5" (an unquoted # starts a comment)')
    if not isinstance(colour, str) or not WIDGET_COLOUR.fullmatch(colour.strip()):
        raise SettingsError(f"{path}: `widget.colour` must be a colour written as #rrggbb (like #2c5cc5), not {colour!r}")
    position = document.get("position", "right")
    if position not in WIDGET_POSITIONS:
        raise SettingsError(f"{path}: `widget.position` must be one of {', '.join(WIDGET_POSITIONS)}, not {position!r}")
    return WidgetLook(title=title, colour=colour.strip().lower(), position=position)


@dataclass(frozen=True)
class ShopSettings:
    shop: str
    name: str
    self_shipping_deadline_days: int = 12
    at_risk_days: int = 3
    return_window_days: int = 15
    buyer_cancellation: str = CANCEL_ON_REQUEST
    platform_auto_approval_hours: int = 24
    return_auto_approval: AutoApprovalRule = AutoApprovalRule()
    # The first message of every conversation, above the welcome FAQs' buttons.
    chat_welcome: str = DEFAULT_CHAT_WELCOME
    chat_welcome_id: str = ""  # the same in Indonesian; empty: Indonesian shoppers get `chat_welcome`
    working_hours: WorkingHours = WorkingHours()
    handoff: HandoffRules = HandoffRules()
    widget: WidgetLook = WidgetLook()


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
    cancellation = document.get("buyer_cancellation", CANCEL_ON_REQUEST)
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
    chat_welcome_id = str(document.get("chat_welcome_id") or "").strip()
    for key, text in (("chat_welcome", chat_welcome), ("chat_welcome_id", chat_welcome_id)):
        if len(text) > MAX_CHAT_WELCOME_LENGTH:
            raise SettingsError(f"{path}: `{key}` is longer than {MAX_CHAT_WELCOME_LENGTH} characters")
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
        chat_welcome_id=chat_welcome_id,
        working_hours=working_hours,
        handoff=_handoff_rules(document.get("handoff"), path),
        widget=_widget_look(document.get("widget"), path),
    )


def _merged(existing: object, value: object) -> object:
    """`value` written over `existing`: a mapping is updated in place, so that the comments
    ruamel keeps inside it (those after its last line, above the next setting) stay."""
    if isinstance(existing, dict) and isinstance(value, dict):
        for key in [key for key in existing if key not in value]:
            del existing[key]
        for key, item in value.items():
            existing[key] = _merged(existing[key], item) if key in existing else item
        return existing
    return value


class SettingsFile:
    """shop.yml as a running process sees it: `current()` re-reads the file only when it has
    changed (another inode, modification time or size), so a seller's edit applies at the next
    message. A change that does not validate is logged and ignored: the last valid settings stay
    in service until the file is fixed. SettingsError only if no valid version was ever read."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._stamp: Optional[Tuple[int, int, int]] = None
        self._settings: Optional[ShopSettings] = None

    def _current_stamp(self) -> Optional[Tuple[int, int, int]]:
        try:
            stat = self.path.stat()
        except OSError:
            return None  # gone: load_settings says why
        # The inode too: every write replaces the file (a new inode), even within one tick of the
        # file system's clock and at the same size.
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def current(self) -> ShopSettings:
        stamp = self._current_stamp()
        if self._settings is not None and stamp == self._stamp:
            return self._settings
        try:
            self._settings = load_settings(self.path)
        except SettingsError as error:
            if self._settings is None:
                raise
            log.error("%s; keeping the last valid settings until it is fixed", error)
        self._stamp = stamp
        return self._settings

    def write(self, key: str, value: object) -> None:
        """Change one top-level setting, keeping the seller's comments and layout.

        The result is validated before it replaces the file (atomically), so a bad value
        is refused (SettingsError) and the settings in service stay as they were. The next
        `current()` reads the new file.
        """
        yaml_round_trip = YAML()  # ruamel keeps comments, order and quoting
        document = yaml_round_trip.load(self.path.read_text(encoding="utf-8"))
        value = LiteralScalarString(value) if isinstance(value, str) and "\n" in value else value
        document[key] = _merged(document.get(key), value)
        text = io.StringIO()
        yaml_round_trip.dump(document, text)

        def validate(written: Path) -> None:
            try:
                load_settings(written)
            except SettingsError as error:
                raise SettingsError(str(error).replace(str(written), str(self.path))) from error

        write_atomically(self.path, text.getvalue(), check=validate)
        self._stamp = None
