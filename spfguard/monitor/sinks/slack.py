"""Slack: an incoming webhook with a Block Kit message — a header, one section per event (at most 45 shown,
then a count), a context line. ``text`` is the notification's fallback. Limits from Slack's Block Kit reference:
50 blocks a message, 150 characters in a header, 3,000 in a section's text; ``&``, ``<`` and ``>`` escaped in
mrkdwn (Slack's "Formatting text" guide)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from spfguard.monitor.alerts import Message
from spfguard.monitor.sinks.webhook import WebhookSink

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
SHOWN_EVENTS = MAX_BLOCKS - 5


def mrkdwn(text: str) -> str:
    """Slack's three control characters escaped (its mrkdwn reads them as links and mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def blocks(message: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": _cut(
        message.subject, MAX_HEADER), "emoji": False}}]
    lines = message.text.splitlines()[1:]
    for line in lines[:SHOWN_EVENTS]:
        body.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(mrkdwn(line), MAX_SECTION)}})
    if len(lines) > SHOWN_EVENTS:
        body.append({"type": "section", "text": {"type": "mrkdwn", "text": f"… and {len(lines) - SHOWN_EVENTS} "
                                                                              "more (the full list: `spfguard monitor "
                                                                              "status`)"}})
    body.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "spfguard monitor"}]})
    return {"text": _cut(message.subject, MAX_SECTION), "blocks": body}


@dataclass
class SlackSink(WebhookSink):
    kind = "slack"
    label: ClassVar[str] = "Slack webhook"
    keyed: ClassVar[bool] = False
    where: str = field(default="alerts.slack", compare=False)

    def payload(self, message: Message) -> dict:
        return blocks(message)
