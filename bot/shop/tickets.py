"""Handing conversations to people: tickets, the agents' queue, and the context an agent sees.

A ticket is opened by the bot (`action_handoff`: the shopper asked, the bot was not
sure twice in a row, or a sensitive topic) or by the web service (working hours:
the team answers, the bot stays silent). At most one ticket per conversation is open.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload, sessionmaker

from bot.rasa import events as tracker_events
from bot.shop import rules
from bot.shop.db import CLAIMED, RESOLVED, WAITING, Customer, Order, Shop, StaffUser, Ticket, transaction, utcnow
from bot.shop.identity import verified_customer_id
from bot.shop.orders import money
from bot.errors import Conflict, NotFound

ASKED_FOR_HUMAN, REPEATED_FALLBACK, WORKING_HOURS = "asked_for_human", "repeated_fallback", "working_hours"
# The bot could not answer (its action server was down): the team follows up, the bot goes on.
BOT_TROUBLE = "bot_trouble"
SENSITIVE_PREFIX = "sensitive:"
# Reasons a shopper's later request for a person (or a sensitive topic) replaces.
PROVISIONAL_REASONS = (WORKING_HOURS, BOT_TROUBLE)
LAST_MESSAGES = 6


def person_answers(ticket: Optional[Ticket], team_away: bool = False) -> bool:
    """Whether a person answers the conversation's messages: while any ticket is open, except
    one that no agent has claimed yet while the team is away (outside working hours the bot
    goes on helping until they are back: an order number sent after "a person will reply
    tomorrow" is answered, on a sensitive topic too, since a shopper left without any answer
    until morning is worse served than by the bot's facts), or that was opened for the bot's
    own trouble (the bot answers again as soon as it can, and the team follows up)."""
    unclaimed = ticket is not None and ticket.status == WAITING
    helps = unclaimed and (team_away or ticket.reason == BOT_TROUBLE)
    return ticket is not None and not helps


def sensitive_topic(text: str, sensitive: Iterable[Tuple[str, Tuple[str, ...]]]) -> Optional[str]:
    """The first sensitive topic (shop.yml `handoff.sensitive`) whose phrase the message contains."""
    words = " " + " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split()) + " "
    for topic, phrases in sensitive:
        if any(f" {' '.join(phrase.split())} " in words for phrase in phrases):
            return topic
    return None


def transcript(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The conversation's messages from Rasa tracker events: who said what, when."""
    messages = []
    for event in events:
        if tracker_events.is_shopper_message(event):
            messages.append({"from": "shopper", "text": event["text"], "at": event.get("timestamp")})
        elif tracker_events.is_bot(event) and (event.get("text") or (event.get("data") or {}).get("buttons")):
            agent = (event.get("metadata") or {}).get("agent")
            buttons = [b.get("title") for b in (event.get("data") or {}).get("buttons") or []]
            messages.append({
                "from": f"agent {agent}" if agent else "bot", "text": event.get("text") or "",
                "buttons": buttons, "at": event.get("timestamp"),
            })
    return messages


_IDENTITY_KEYS = ("customer_id", "expires", "signature")


def summarize(events: List[Dict[str, Any]], slots: Dict[str, Any]) -> Dict[str, Any]:
    """What an agent needs at a glance: shopper, verified order, intent, the bot's answers, the last messages.

    `customer_id` is the customer the bot verified through a signed identity (the
    `verified_by` slot); `identity` is the latest message's signed identity as sent, with
    the message's time, which the console checks before it shows that customer's name.
    """
    user_events = [e for e in events if tracker_events.is_shopper_message(e)]
    latest = (user_events[-1].get("parse_data") or {}) if user_events else {}
    intent = latest.get("intent") or {}
    metadata = (user_events[-1].get("metadata") or {}) if user_events else {}
    signed_in = metadata.get("customer_id")
    verified_by = slots.get("verified_by")
    messages = transcript(events)
    identity = {key: metadata.get(key) for key in _IDENTITY_KEYS} if signed_in else None
    if identity is not None:
        identity["at"] = user_events[-1].get("timestamp")
    return {
        "shopper": (
            f"signed-in customer {verified_by}" if verified_by and verified_by != "contact"
            else f"signed-in customer {signed_in}" if signed_in
            else "verified by order e-mail or phone" if verified_by == "contact"
            else "anonymous"
        ),
        "order": slots.get("verified_order"),
        "intent": intent.get("name"),
        "intent_confidence": round(float(intent.get("confidence") or 0.0), 2),
        "bot_answered": [m["text"] for m in messages if m["from"] == "bot"][-3:],
        "last_messages": messages[-LAST_MESSAGES:],
        "customer_id": verified_by if verified_by and verified_by != "contact" else None,
        "identity": identity,
    }


@dataclass(frozen=True)
class OrderFacts:
    """The verified order as the console shows it."""

    number: str
    status: str
    total: str  # "€24.90"
    customer_name: str
    # The marketplace deadline at stake now (OrderDesk.marketplace_deadline), if any.
    deadline: Optional[Tuple[datetime, str]] = None

    @property
    def status_label(self) -> str:
        return self.status.replace("_", " ").capitalize()  # "ready_to_ship" → "Ready to ship"


def deadline_words(label: str) -> str:
    """What is due at a marketplace deadline, in a few words ("ship by"), from its label."""
    if "refund" in label:
        return "decide the refund by"
    if "ship" in label:
        return "ship by"
    return label


def short_id(sender_id: str) -> str:
    """A conversation's short, stable name for a shopper nobody knows: 6 hex digits."""
    return hashlib.blake2s(sender_id.encode(), digest_size=3).hexdigest()


def _at(timestamp: Optional[float]) -> Optional[datetime]:
    return datetime.fromtimestamp(timestamp, timezone.utc) if isinstance(timestamp, (int, float)) else None


def moment_json(moment: Optional[datetime], now: datetime, zone: tzinfo) -> Optional[Dict[str, str]]:
    """A time as the console shows it: relative ("12 min ago"), how long since ("12 min"),
    absolute (on hover, in the shop's time zone), ISO."""
    if moment is None:
        return None
    local = moment.astimezone(zone)
    words = rules.duration_words(now - moment)
    return {
        "at": moment.isoformat(),
        "ago": "just now" if words == "under 1 min" else f"{words} ago" if moment <= now else f"in {words}",
        "duration": words,
        "absolute": f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({local.tzname()})",
    }


def last_message_at(ticket: Ticket, summary: Dict[str, Any]) -> Optional[datetime]:
    """The latest message of the conversation the ticket knows of: the shopper's or an agent's."""
    moments = [_at((summary.get("last_messages") or [{}])[-1].get("at")), _at(summary.get("last_shopper_at")),
               ticket.last_agent_reply_at]
    return max((moment for moment in moments if moment is not None), default=None)


def last_shopper_text(summary: Dict[str, Any]) -> str:
    if summary.get("last_shopper_text"):
        return summary["last_shopper_text"]
    said = [m["text"] for m in summary.get("last_messages") or [] if m.get("from") == "shopper"]
    return said[-1] if said else ""


def recorded_deadline(ticket: Ticket) -> Optional[Tuple[datetime, str]]:
    """The marketplace deadline recorded when the ticket opened (or last refreshed)."""
    return (ticket.deadline_at, ticket.deadline_label or "deadline") if ticket.deadline_at else None


def ticket_json(
    ticket: Ticket, now: datetime, viewer: Optional[str] = None, order: Optional[OrderFacts] = None,
    shopper_name: Optional[str] = None, windows: rules.UrgencyWindows = rules.UrgencyWindows(),
    zone: tzinfo = timezone.utc,
) -> Dict[str, Any]:
    """A ticket for the console: who, which order, how urgent and why, since when, and what
    `viewer` (an agent's username) may do with it. `order` and `shopper_name` come from the
    database (TicketDesk.shown); without them, the ticket's own record."""
    summary = json.loads(ticket.summary or "{}")
    summary.pop("identity", None)  # checked by TicketDesk.shown; the signature is nobody's business
    deadline = order.deadline if order is not None else recorded_deadline(ticket)
    due = rules.ticket_due_at(ticket.shopper_waiting_since, deadline[0] if deadline else None)
    urgency = rules.ticket_urgency(
        now, (deadline[0], deadline_words(deadline[1])) if deadline else None, ticket.shopper_waiting_since, windows, zone,
    )
    holder = ticket.agent.username if ticket.agent else None
    mine = ticket.status == CLAIMED and viewer is not None and holder == viewer
    return {
        "id": ticket.id, "sender": ticket.sender_id, "status": ticket.status, "reason": ticket.reason,
        "agent": ticket.agent.display_name if ticket.agent else None,
        "agent_username": holder,
        "mine": mine,
        "actions": list(rules.ticket_actions(ticket.status, holder, viewer)),
        "shopper_name": shopper_name or f"Shopper {short_id(ticket.sender_id)}",
        "shopper_known": bool(shopper_name),
        "urgency": {
            "level": urgency.level, "reason": urgency.reason,
            "deadline_at": urgency.deadline_at.isoformat() if urgency.deadline_at else None,
        },
        "order_details": None if not ticket.order_number else {
            "number": ticket.order_number,
            "status": order.status if order else None,
            "status_label": order.status_label if order else None,
            "total": order.total if order else None,
            "deadline": moment_json(deadline[0], now, zone) if deadline else None,
            "deadline_label": deadline[1] if deadline else None,
        },
        "waiting_since": moment_json(ticket.shopper_waiting_since, now, zone),
        "last_message": moment_json(last_message_at(ticket, summary), now, zone),
        "opened": moment_json(ticket.created_at, now, zone),
        "last_shopper_text": last_shopper_text(summary),
        "created_at": ticket.created_at.isoformat(),
        "waiting_minutes": (
            round((now - ticket.shopper_waiting_since).total_seconds() / 60, 1) if ticket.shopper_waiting_since else None
        ),
        "due_at": due.isoformat() if due else None,
        "due_in_minutes": round((due - now).total_seconds() / 60) if due else None,
        "deadline": deadline[1] if deadline else None,
        "deadline_in_minutes": round((deadline[0] - now).total_seconds() / 60) if deadline else None,
        "order": ticket.order_number,
        "summary": summary,
    }


class TicketDesk:
    """The tickets of one shop. Every state change bumps `updated_at`, which the console follows."""

    def __init__(self, sessions: sessionmaker, shop_id: int):
        self.sessions = sessions
        self.shop_id = shop_id

    def open_ticket_of(self, sender_id: str) -> Optional[Ticket]:
        with self.sessions() as session:
            return session.execute(
                select(Ticket).where(
                    Ticket.shop_id == self.shop_id, Ticket.sender_id == sender_id, Ticket.status != RESOLVED,
                ).order_by(Ticket.id.desc())
            ).scalars().first()

    def open(
        self, sender_id: str, reason: str, summary: Dict[str, Any],
        deadline: Optional[Tuple[datetime, str]] = None, now: Optional[datetime] = None,
    ) -> Ticket:
        """Open a ticket for the conversation, or refresh the one already open."""
        now = now or utcnow()
        with transaction(self.sessions) as session:
            ticket = session.execute(
                select(Ticket).where(
                    Ticket.shop_id == self.shop_id, Ticket.sender_id == sender_id, Ticket.status != RESOLVED,
                )
            ).scalars().first()
            if ticket is None:
                ticket = Ticket(shop_id=self.shop_id, sender_id=sender_id, status=WAITING, reason=reason, created_at=now)
                session.add(ticket)
            elif ticket.reason in PROVISIONAL_REASONS and reason not in PROVISIONAL_REASONS:
                ticket.reason = reason  # the shopper now asks for a person: no bot fallback
            ticket.summary = json.dumps(summary)
            ticket.order_number = summary.get("order")
            ticket.deadline_at, ticket.deadline_label = deadline or (None, None)
            ticket.shopper_waiting_since = ticket.shopper_waiting_since or now
            ticket.updated_at = now
        return self.get(ticket.id)  # loaded whole, its agent included

    def get(self, ticket_id: int) -> Ticket:
        with self.sessions() as session:
            ticket = session.get(Ticket, ticket_id)
        if ticket is None or ticket.shop_id != self.shop_id:
            raise NotFound(f"There is no ticket {ticket_id}.")
        return ticket

    def queue(self, now: Optional[datetime] = None) -> List[Ticket]:
        """Open tickets, most urgent first: the earliest due (deadline or reply target), then the oldest."""
        with self.sessions() as session:
            tickets = list(session.execute(
                select(Ticket).where(Ticket.shop_id == self.shop_id, Ticket.status != RESOLVED)
            ).scalars())
        far_future = (now or utcnow()) + timedelta(days=3650)
        return sorted(tickets, key=lambda t: (
            rules.ticket_due_at(t.shopper_waiting_since, t.deadline_at) or far_future, t.created_at,
        ))

    def shown(
        self, tickets: List[Ticket], now: datetime, viewer: Optional[str] = None,
        deadline_of: Optional[Callable[[str], Optional[Tuple[datetime, str]]]] = None,
        windows: rules.UrgencyWindows = rules.UrgencyWindows(), zone: tzinfo = timezone.utc,
    ) -> List[Dict[str, Any]]:
        """`ticket_json` of each ticket, with the shopper's name and the verified order's
        details from the database (read once for all). `deadline_of` gives an order's
        marketplace deadline as it is now; without it, the one recorded when the ticket opened."""
        summaries = {ticket.id: json.loads(ticket.summary or "{}") for ticket in tickets}
        numbers = {ticket.order_number for ticket in tickets if ticket.order_number}
        with self.sessions() as session:
            orders = {order.number: order for order in session.execute(
                select(Order).where(Order.shop_id == self.shop_id, Order.number.in_(numbers))
                .options(selectinload(Order.customer))
            ).scalars()} if numbers else {}
            secret = session.get(Shop, self.shop_id).identity_secret if any(
                summary.get("identity") for summary in summaries.values()
            ) else ""
            customer_ids = {ticket.id: self._signed_in(summaries[ticket.id], secret) for ticket in tickets}
            wanted = {customer_id for customer_id in customer_ids.values() if customer_id}
            names = {customer.external_id: customer.name for customer in session.execute(
                select(Customer).where(Customer.shop_id == self.shop_id, Customer.external_id.in_(wanted))
            ).scalars()} if wanted else {}
        shown = []
        for ticket in tickets:
            order = orders.get(ticket.order_number or "")
            facts = None
            if order is not None:
                deadline = deadline_of(order.number) if deadline_of is not None else recorded_deadline(ticket)
                facts = OrderFacts(order.number, order.status, money(order.total_cents, order.currency),
                                   order.customer.name, deadline)
            name = facts.customer_name if facts else names.get(customer_ids[ticket.id] or "")
            shown.append(ticket_json(ticket, now, viewer, facts, name, windows, zone))
        return shown

    @staticmethod
    def _signed_in(summary: Dict[str, Any], secret: str) -> Optional[str]:
        """The customer a ticket's conversation is signed in as: verified by the bot, or a
        valid signed identity on the shopper's latest message (as of that message)."""
        if summary.get("customer_id"):
            return summary["customer_id"]
        identity = summary.get("identity") or {}
        if not secret or not isinstance(identity.get("at"), (int, float)):
            return None
        return verified_customer_id(secret, identity, identity["at"])

    def last_change(self) -> Optional[datetime]:
        with self.sessions() as session:
            return session.execute(
                select(Ticket.updated_at).where(Ticket.shop_id == self.shop_id).order_by(Ticket.updated_at.desc()).limit(1)
            ).scalar_one_or_none()

    def note_shopper_message(self, ticket_id: int, now: Optional[datetime] = None, text: Optional[str] = None) -> None:
        """The shopper wrote again (`text`, if given, is what): they wait for a person."""
        now = now or utcnow()
        with transaction(self.sessions) as session:
            ticket = session.get(Ticket, ticket_id)
            ticket.shopper_waiting_since = ticket.shopper_waiting_since or now
            ticket.updated_at = now
            summary = json.loads(ticket.summary or "{}")
            summary["last_shopper_at"] = now.timestamp()
            if text:
                summary["last_shopper_text"] = text
            ticket.summary = json.dumps(summary)

    def claim(self, ticket_id: int, agent: StaffUser, now: Optional[datetime] = None) -> Ticket:
        """Take a waiting ticket. Of two agents claiming at once, exactly one wins: the update
        only applies while the ticket is still waiting."""
        now = now or utcnow()
        with transaction(self.sessions) as session:
            claimed = session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.shop_id == self.shop_id, Ticket.status == WAITING)
                .values(status=CLAIMED, agent_id=agent.id, claimed_at=now, updated_at=now)
            ).rowcount
        ticket = self.get(ticket_id)
        if not claimed and not (ticket.status == CLAIMED and ticket.agent_id == agent.id):
            raise Conflict(self._taken_message(ticket))
        return ticket

    def release(self, ticket_id: int, agent: StaffUser, now: Optional[datetime] = None) -> None:
        self.owned(ticket_id, agent)
        with transaction(self.sessions) as session:
            ticket = session.get(Ticket, ticket_id)
            ticket.status, ticket.agent_id, ticket.updated_at = WAITING, None, now or utcnow()

    def owned(self, ticket_id: int, agent: StaffUser) -> Ticket:
        """The ticket, if this agent holds it; otherwise why not."""
        ticket = self.get(ticket_id)
        if ticket.status != CLAIMED or ticket.agent_id != agent.id:
            raise Conflict(self._taken_message(ticket) if ticket.status != WAITING else "Claim the ticket first.")
        return ticket

    def record_agent_reply(self, ticket_id: int, now: Optional[datetime] = None) -> None:
        now = now or utcnow()
        with transaction(self.sessions) as session:
            ticket = session.get(Ticket, ticket_id)
            ticket.last_agent_reply_at, ticket.shopper_waiting_since, ticket.updated_at = now, None, now

    def resolve(self, ticket_id: int, resolved_by: str, now: Optional[datetime] = None) -> None:
        now = now or utcnow()
        with transaction(self.sessions) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket.status == RESOLVED:
                raise Conflict(f"Ticket {ticket_id} is already resolved.")
            ticket.status, ticket.resolved_at, ticket.resolved_by, ticket.updated_at = RESOLVED, now, resolved_by, now
            ticket.shopper_waiting_since = None

    def waiting_for_the_bot(self, now: datetime, timeout: timedelta) -> List[Ticket]:
        """Working-hours tickets whose shopper has waited `timeout` with no agent reply."""
        with self.sessions() as session:
            return list(session.execute(
                select(Ticket).where(
                    Ticket.shop_id == self.shop_id, Ticket.status != RESOLVED, Ticket.reason == WORKING_HOURS,
                    Ticket.shopper_waiting_since <= now - timeout,
                )
            ).scalars())

    @staticmethod
    def _taken_message(ticket: Ticket) -> str:
        if ticket.status == RESOLVED:
            return f"Ticket {ticket.id} is already resolved; nothing was sent."
        holder = ticket.agent.display_name if ticket.agent else "another agent"
        return f"Ticket {ticket.id} was claimed by {holder} first."
