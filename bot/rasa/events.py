"""Rasa's tracker events as its HTTP API and the action server hand them over (plain dicts):
the one place that knows their shape."""
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

Event = Mapping[str, Any]

# What a chat page sends to open a conversation (and get the Chat Welcome): not a shopper's words.
SESSION_START_TEXT = "/session_start"

# Events the web service appends through Rasa's HTTP API.
LISTEN = {"event": "action", "name": "action_listen"}
RESUME = {"event": "resume"}


def is_user(event: Event) -> bool:
    return event.get("event") == "user"


def is_bot(event: Event) -> bool:
    return event.get("event") == "bot"


def is_action(event: Event, name: Optional[str] = None) -> bool:
    """An action ran (`name`: that action)."""
    return event.get("event") == "action" and (name is None or event.get("name") == name)


def is_slot(event: Event, name: str) -> bool:
    return event.get("event") == "slot" and event.get("name") == name


def user_intent(event: Event) -> Optional[str]:
    """The intent Rasa read in a user event."""
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def split_at_latest_message(events: List[Event]) -> Tuple[List[Event], List[Event]]:
    """The events before the latest user message, and those after it (all before, none
    after, when there is none)."""
    users = [i for i, event in enumerate(events) if is_user(event)]
    if not users:
        return list(events), []
    return events[: users[-1]], events[users[-1] + 1 :]


def last_action_before_message(events: List[Event]) -> Optional[str]:
    """The last action the bot ran before the latest user message (action_listen aside)."""
    for event in reversed(split_at_latest_message(events)[0]):
        if is_action(event) and not is_action(event, "action_listen"):
            return event.get("name")
    return None


def is_shopper_message(event: Event) -> bool:
    """Something the shopper wrote or tapped (not the chat page's session start)."""
    return is_user(event) and bool(event.get("text")) and event["text"] != SESSION_START_TEXT


def bot_messages(events: Iterable[Event], after: Optional[float] = None) -> List[Event]:
    """The bot's (and agents') messages; with `after`, only those later than that timestamp."""
    return [event for event in events if is_bot(event) and (after is None or (event.get("timestamp") or 0) > after)]


def is_listening(events: List[Event]) -> bool:
    """Whether the conversation waits for the shopper (its last event is action_listen)."""
    return bool(events) and is_action(events[-1], "action_listen")


def user_event(text: str, parse_data: Dict[str, Any], metadata: Dict[str, Any]) -> Dict[str, Any]:
    """A shopper message recorded as Rasa's REST channel would record it. Rule-based extractors
    (SpacyEntityExtractor: order numbers, e-mails, phones) give entities a confidence of None,
    which Rasa's events endpoint refuses ("None is not of type 'number'"): such an entity is
    recorded without a confidence."""
    entities = [
        {key: value for key, value in entity.items() if not (key == "confidence" and value is None)}
        for entity in parse_data.get("entities") or []
    ]
    parse_data = {**parse_data, "entities": entities}
    return {"event": "user", "text": text, "parse_data": parse_data, "input_channel": "rest", "metadata": metadata}


def bot_event(text: str, metadata: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "metadata": metadata or {}}
