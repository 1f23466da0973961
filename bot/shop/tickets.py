"""Handing conversations to people: tickets, the agents' queue, and the context an agent sees.

A ticket is opened by the bot (`action_handoff`: the shopper asked, the bot was not
sure twice in a row, or a sensitive topic) or by the web service (working hours:
the team answers, the bot stays silent). At most one ticket per conversation is open.
"""
import json
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, List, Optional, Tuple

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from bot.rasa import events as tracker_events
from bot.shop import rules
from bot.shop.db import CLAIMED, RESOLVED, WAITING, StaffUser, Ticket, transaction, utcnow
from bot.errors import Conflict, NotFound

ASKED_FOR_HUMAN, REPEATED_FALLBACK, WORKING_HOURS = "asked_for_human", "repeated_fallback", "working_hours"
SENSITIVE_PREFIX = "sensitive:"
LAST_MESSAGES = 6


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


def summarize(events: List[Dict[str, Any]], slots: Dict[str, Any]) -> Dict[str, Any]:
    """What an agent needs at a glance: shopper, verified order, intent, the bot's answers, the last messages."""
    user_events = [e for e in events if tracker_events.is_shopper_message(e)]
    latest = (user_events[-1].get("parse_data") or {}) if user_events else {}
    intent = latest.get("intent") or {}
    signed_in = ((user_events[-1].get("metadata") or {}) if user_events else {}).get("customer_id")
    verified_by = slots.get("verified_by")
    messages = transcript(events)
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
    }


def ticket_json(ticket: Ticket, now: datetime) -> Dict[str, Any]:
    due = rules.ticket_due_at(ticket.shopper_waiting_since, ticket.deadline_at)
    return {
        "id": ticket.id, "sender": ticket.sender_id, "status": ticket.status, "reason": ticket.reason,
        "agent": ticket.agent.display_name if ticket.agent else None,
        "agent_username": ticket.agent.username if ticket.agent else None,
        "created_at": ticket.created_at.isoformat(),
        "waiting_minutes": (
            round((now - ticket.shopper_waiting_since).total_seconds() / 60, 1) if ticket.shopper_waiting_since else None
        ),
        "due_at": due.isoformat() if due else None,
        "due_in_minutes": round((due - now).total_seconds() / 60) if due else None,
        "deadline": ticket.deadline_label,
        "deadline_in_minutes": round((ticket.deadline_at - now).total_seconds() / 60) if ticket.deadline_at else None,
        "order": ticket.order_number,
        "summary": json.loads(ticket.summary or "{}"),
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
            elif ticket.reason == WORKING_HOURS and reason != WORKING_HOURS:
                ticket.reason = reason  # the shopper now asks for a person: no bot fallback
            ticket.summary = json.dumps(summary)
            ticket.order_number = summary.get("order")
            ticket.deadline_at, ticket.deadline_label = deadline or (None, None)
            ticket.shopper_waiting_since = ticket.shopper_waiting_since or now
            ticket.updated_at = now
        return ticket

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

    def last_change(self) -> Optional[datetime]:
        with self.sessions() as session:
            return session.execute(
                select(Ticket.updated_at).where(Ticket.shop_id == self.shop_id).order_by(Ticket.updated_at.desc()).limit(1)
            ).scalar_one_or_none()

    def note_shopper_message(self, ticket_id: int, now: Optional[datetime] = None) -> None:
        now = now or utcnow()
        with transaction(self.sessions) as session:
            ticket = session.get(Ticket, ticket_id)
            ticket.shopper_waiting_since = ticket.shopper_waiting_since or now
            ticket.updated_at = now

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
