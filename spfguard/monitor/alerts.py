"""What an alert or a digest says, the same for every channel (:mod:`spfguard.monitor.sinks`): a one-line
subject, a plain-text body with text from DNS escaped, and the events themselves for channels that carry data
(JSON keeps exact values)."""

from __future__ import annotations

from dataclasses import dataclass, field

from spfguard.errors import IncompleteError
from spfguard.monitor.drift import Event
from spfguard.textsafe import safe


class AlertError(IncompleteError):
    """A channel refused a message or did not answer in time (the message stays in the outbox)."""


@dataclass
class Message:
    subject: str
    text: str
    events: list[Event] = field(default_factory=list)  # an alert: the events it reports
    digest: dict | None = None  # a digest: its JSON form


def summary(events: list[Event], title: str = "") -> str:
    domains = sorted({e.domain for e in events})
    head = f"spfguard: {len(events)} SPF event{'s' if len(events) != 1 else ''}{title} for {', '.join(domains)}"
    return "\n".join([safe(head), *(f"• [{e.code}] {safe(e.message)}" for e in events)])


def alert_message(events: list[Event], title: str = "") -> Message:
    text = summary(events, title)
    return Message(text.splitlines()[0], text, list(events))
