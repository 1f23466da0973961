"""The storefront chat's way to the bot and to the agents (the web service's /api/chat).

Each shopper message goes to the bot, unless a person should answer it: the
conversation has an open ticket (claimed, or waiting while the team is in), or it is
working hours and the shop's bot mode leaves them to the team. Such a message is recorded in the conversation without a
reply (the agents see it, and answer recommendations are computed for it), and the
shopper's chat polls for the agent's reply. If no agent replies within the shop's
timeout, `answer_overdue` lets the bot answer after all.
"""
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from bot.rasa import events as tracker_events
from bot.rasa.client import RasaClient, clean_text, validate_message
from bot.shop.context import ShopContext
from bot.shop.db import Ticket, utcnow
from bot.errors import NotFound
from bot.shop.tickets import ASKED_FOR_HUMAN, BOT_TROUBLE, WORKING_HOURS, TicketDesk, person_answers, summarize
from bot.shop.hours import bot_answers, is_open
from bot.shop.identity import CLIENT_ADDRESS
from bot.shop.orders import OrderDesk
from bot.language import SHOPPER_LANGUAGE, clear_language_of, language_of
from bot.rasa.responses import fill_response

log = logging.getLogger(__name__)
# Rasa's REST channel reads a text starting with "/" (after spaces) as an intent, not as words.
COMMAND_PREFIX = re.compile(r"^[\s/]+")


# Words before a button's title that change nothing ("ok, I'll wait", "yes cancel it").
FILLER_WORDS = frozenset("ok okay oke okey alright sure yes yeah ya iya yup then so please pls tolong deh aja dong".split())
# How many conversations' latest buttons the web service remembers (the oldest are forgotten).
REMEMBERED_CONVERSATIONS = 10_000


def button_words(text: str) -> str:
    """A typed text or a button title as compared: lower case, words only, fillers dropped."""
    words = "".join(c if c.isalnum() or c == "'" else " " for c in text.lower()).split()
    return " ".join(word for word in words if word not in FILLER_WORDS)


@dataclass
class OfferedButtons:
    """The buttons of each conversation's latest replies, kept by the web service: a shopper
    who types a button's title instead of tapping it ("Return and refund", "ok i'll wait")
    gets what the tap gives. A web service that restarted, or another one, does not know the
    buttons: the words then go to the model as they are."""

    latest: "OrderedDict[str, Dict[str, str]]" = field(default_factory=OrderedDict)

    def remember(self, sender: str, replies: List[Dict[str, Any]]) -> None:
        # (A link button opens its page in the chat widget: its title typed is words.)
        titles = {
            button_words(b.get("title") or ""): b["payload"] for r in replies for b in r["buttons"]
            if b.get("payload") and not b["payload"].startswith(("http://", "https://"))
        }
        self.forget(sender)
        if titles:
            self.latest[sender] = titles
            while len(self.latest) > REMEMBERED_CONVERSATIONS:
                self.latest.popitem(last=False)

    def forget(self, sender: str) -> None:
        self.latest.pop(sender, None)

    def payload_for(self, sender: str, text: str) -> Optional[str]:
        """The payload of the offered button whose title the shopper typed, if any."""
        words = button_words(text)
        return self.latest.get(sender, {}).get(words) if words else None


@dataclass
class Gateway:
    shop: ShopContext  # shop.yml's current settings, and the order database for a ticket's deadline
    rasa: RasaClient
    tickets: TicketDesk
    responses: Dict[str, Any]
    offered: OfferedButtons

    async def shopper_message(
        self, sender: str, text: str, metadata: Optional[Dict[str, Any]], client_address: str,
        after: Optional[float] = None, browser_language: Optional[str] = None,
    ) -> Dict[str, Any]:
        """The bot's replies to the message (none while a person answers). With `after` (the
        chat's cursor), every reply since then instead: an agent's that came after the chat's
        last look at the updates is not skipped by the new cursor."""
        validate_message(sender, text)
        # The address is ours to say, whatever the storefront sent under its key. So is the
        # language the shopper reads (the message's, else the browser's): a conversation's
        # first message picks the Chat Welcome's language by it, before Rasa reads the words.
        metadata = {**(metadata or {}), CLIENT_ADDRESS: client_address}
        metadata[SHOPPER_LANGUAGE] = (None if text.lstrip().startswith("/") else clear_language_of(text)) or browser_language
        ticket = self.tickets.open_ticket_of(sender)
        hours, now = self.shop.settings.working_hours, utcnow()
        bot_answers_now, team_away = bot_answers(hours, now), not is_open(hours, now)
        with_a_person = person_answers(ticket, team_away)
        words = text
        if not with_a_person:  # (a person reads the shopper's own words)
            text = self.offered.payload_for(sender, text) or text
        # Reading the conversation costs Rasa a whole tracker load: it is read here only to tell
        # a payload the bot offered (a command) from words, where that changes anything.
        events = None
        if text.lstrip().startswith("/") or (not with_a_person and not bot_answers_now):
            events = await self.rasa.events(sender)
        is_command = events is not None and is_offered_payload(text, events)
        if not is_command:
            text = as_plain_text(text)
        # While a person has the conversation, they answer everything. Otherwise a payload the bot
        # offered goes to the bot even in working hours: it is no question.
        for_a_person = with_a_person or (not is_command and not bot_answers_now)
        if not for_a_person:
            if ticket is not None and ticket.reason != BOT_TROUBLE:
                # A ticket waits while the team is away: the bot helps on (a handoff while the
                # team was in paused the conversation), and the ticket keeps the latest words.
                await self.rasa.append_events(sender, [tracker_events.RESUME])
                self.tickets.note_shopper_message(ticket.id, text=words)
            answer = await self.rasa.send(sender, text, metadata, after)
            replies = [reply_of(event) for event in answer["replies"]]
            self.offered.remember(sender, replies)
            ticket = self.tickets.open_ticket_of(sender)  # the bot may have handed over just now
            if replies or person_answers(ticket, team_away) or await self.rasa.action_server_up(self.shop.config.actions_url):
                return {"replies": replies, "cursor": answer["cursor"], "handoff": handoff_state(ticket)}
            apology, ticket = await self.apologise_for_trouble(sender, words, ticket)
            replies = [reply(apology, None, time.time())]
        else:
            parse = await self.rasa.parse(text)
            events = events if events is not None else await self.rasa.events(sender)
            listen = [] if tracker_events.is_listening(events) else [tracker_events.LISTEN]
            await self.rasa.append_events(sender, [*listen, tracker_events.user_event(text, parse, metadata)])
            asks_for_a_person = (parse.get("intent") or {}).get("name") == "talk_to_human"
            if ticket is None or (asks_for_a_person and ticket.reason == WORKING_HOURS):
                # Asking for a person (or a sensitive topic) also ends the bot's fallback after the timeout.
                ticket = await self.open_ticket(sender, ASKED_FOR_HUMAN if asks_for_a_person else WORKING_HOURS)
            self.tickets.note_shopper_message(ticket.id, text=text)
            self.offered.forget(sender)
            replies = []
        events = await self.rasa.events(sender)
        if after is not None:
            replies = [reply_of(event) for event in tracker_events.bot_messages(events, after)]
        return {"replies": replies, "cursor": latest_timestamp(events), "handoff": handoff_state(ticket)}

    async def apologise_for_trouble(self, sender: str, text: str, ticket: Optional[Ticket]) -> Tuple[str, Ticket]:
        """The bot could not answer (its action server is down): the shopper gets an apology, in
        the conversation like any reply, and the team a ticket to follow up. The bot goes on
        answering (tickets.person_answers) as soon as it can."""
        apology = fill_response(self.responses, "utter_assistant_trouble", {}, language_of(text))
        await self.rasa.append_events(sender, [tracker_events.bot_event(apology)])
        ticket = ticket or await self.open_ticket(sender, BOT_TROUBLE)
        self.tickets.note_shopper_message(ticket.id, text=text)
        return apology, ticket

    async def open_ticket(self, sender: str, reason: str) -> Ticket:
        tracker = await self.rasa.tracker(sender)
        summary = summarize(tracker.get("events") or [], tracker.get("slots") or {})
        deadline = None
        if summary["order"]:
            deadline = OrderDesk(self.shop).marketplace_deadline(summary["order"])
        return self.tickets.open(sender, reason, summary, deadline)

    async def updates(self, sender: str, after: float) -> Dict[str, Any]:
        """Replies the shopper has not seen: an agent's, or the bot's after the timeout."""
        events = await self.rasa.events(sender)
        replies = [reply_of(event) for event in tracker_events.bot_messages(events, after)]
        return {"replies": replies, "cursor": latest_timestamp(events, after), "handoff": handoff_state(self.tickets.open_ticket_of(sender))}

    async def history(self, sender: str) -> Dict[str, Any]:
        """The whole conversation as the shopper saw it: their own messages (a tapped button as
        its title), the bot's and the agents' replies."""
        events = await self.rasa.events(sender)
        titles: Dict[str, str] = {}  # payload → title of the buttons offered so far
        messages = []
        for event in events:
            if tracker_events.is_shopper_message(event):
                text = event["text"]
                messages.append({"from": "shopper", "agent": None, "text": titles.get(text, text), "buttons": [], "at": event.get("timestamp")})
            elif tracker_events.is_bot(event):
                message = reply_of(event)
                titles.update({b["payload"]: b.get("title", "") for b in message["buttons"] if b.get("payload")})
                if message["text"] or message["buttons"]:
                    messages.append(message)
        return {"messages": messages, "cursor": latest_timestamp(events), "handoff": handoff_state(self.tickets.open_ticket_of(sender))}

    async def agent_reply(self, ticket_id: int, agent, text: str) -> None:
        text = clean_text(text)
        validate_message("agent", text)
        ticket = self.tickets.owned(ticket_id, agent)
        await self._require_conversation(ticket.sender_id)
        # The reply goes into the conversation first: if Rasa is down, nothing is recorded as sent.
        await self.rasa.append_events(ticket.sender_id, [tracker_events.bot_event(text, {"agent": agent.display_name})])
        self.tickets.record_agent_reply(ticket_id)
        self.offered.forget(ticket.sender_id)  # the bot's buttons are no longer the latest

    async def resolve(self, ticket_id: int, agent) -> None:
        """Close the ticket and give the conversation back to the bot."""
        ticket = self.tickets.owned(ticket_id, agent)
        try:
            language = ((await self.rasa.tracker(ticket.sender_id)).get("slots") or {}).get("language")
            closing = tracker_events.bot_event(fill_response(self.responses, "utter_handoff_resolved", {}, language))
            await self.rasa.append_events(ticket.sender_id, [tracker_events.RESUME, closing, tracker_events.LISTEN])
        except Exception:
            # A vanished conversation or Rasa down must not keep the ticket open forever;
            # the conversation resumes anyway with the shopper's next message through us.
            log.exception("could not resume conversation %s", ticket.sender_id)
        self.tickets.resolve(ticket_id, agent.username)

    async def answer_overdue(self) -> int:
        """Let the bot answer working-hours messages no agent replied to in time; how many."""
        hours = self.shop.settings.working_hours
        now = utcnow()
        answered = 0
        for ticket in self.tickets.waiting_for_the_bot(now, hours.agent_reply_timeout):
            if not bot_answers(hours, now, waited=now - ticket.shopper_waiting_since):
                continue
            await self.rasa.append_events(ticket.sender_id, [tracker_events.RESUME])
            await self.rasa.answer_now(ticket.sender_id)
            if self.tickets.get(ticket.id).reason == WORKING_HOURS:  # unless the bot handed over meanwhile
                self.tickets.resolve(ticket.id, "bot")
            answered += 1
        return answered

    async def _require_conversation(self, sender: str) -> None:
        if not any(tracker_events.is_user(event) for event in await self.rasa.events(sender)):
            raise NotFound("This conversation no longer exists (the shopper's history is gone); resolve the ticket.")


def latest_timestamp(events: List[Dict[str, Any]], default: float = 0.0) -> float:
    """The time of the conversation's latest event: the chat's cursor, it asks for what came after it."""
    return max((event.get("timestamp") or 0.0 for event in events), default=default)


def handoff_state(ticket: Optional[Ticket]) -> Optional[Dict[str, Any]]:
    """What the shopper's chat shows: nothing (the bot answers), "waiting for a person", or
    "with <agent>"."""
    if not person_answers(ticket):
        return None
    agent = ticket.agent.display_name if ticket.agent is not None else None
    return {"status": ticket.status, "ticket": ticket.id, "agent": agent}


def reply(text: Optional[str], buttons: Optional[List[Dict[str, Any]]], at: Optional[float], agent: Optional[str] = None) -> Dict[str, Any]:
    """A bot's or an agent's message as the storefront chat shows it."""
    return {"from": "agent" if agent else "bot", "agent": agent, "text": text or "", "buttons": buttons or [], "at": at}


def reply_of(event: Dict[str, Any]) -> Dict[str, Any]:
    """A bot event of the tracker (an agent's reply carries the agent's name) as a reply."""
    buttons = (event.get("data") or {}).get("buttons")
    return reply(event.get("text"), buttons, event.get("timestamp"), (event.get("metadata") or {}).get("agent"))


def is_offered_payload(text: str, events: List[Dict[str, Any]]) -> bool:
    """Whether the shopper may send `text` as a command: the payload of a button the bot offered
    in this conversation, or the chat page's `/session_start` opening a brand-new one."""
    if text == tracker_events.SESSION_START_TEXT and not any(tracker_events.is_user(event) for event in events):
        return True
    return any(
        button.get("payload") == text
        for event in tracker_events.bot_messages(events)
        for button in (event.get("data") or {}).get("buttons") or []
    )


def as_plain_text(text: str) -> str:
    """The shopper's words without the leading slashes that would make Rasa read a command
    ("/restart" → "restart"). A text of slashes only stays: Rasa finds no intent name in it."""
    return COMMAND_PREFIX.sub("", text) or text
