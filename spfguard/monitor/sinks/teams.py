"""Microsoft Teams through a Workflows webhook ("Send webhook alerts to a channel", which replaced the Office
365 connectors): a message with one Adaptive Card attachment (``application/vnd.microsoft.card.adaptive``,
schema version 1.4) — the subject as a bold heading, then one wrapped TextBlock per event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from spfguard.monitor.alerts import Message
from spfguard.monitor.sinks.webhook import WebhookSink

CARD_VERSION = "1.4"
SHOWN_EVENTS = 50


def card(message: Message) -> dict[str, Any]:
    lines = message.text.splitlines()[1:]
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": message.subject, "weight": "Bolder", "size": "Medium",
                                   "wrap": True}]
    body += [{"type": "TextBlock", "text": line, "wrap": True, "spacing": "Small"} for line in lines[:SHOWN_EVENTS]]
    if len(lines) > SHOWN_EVENTS:
        body.append({"type": "TextBlock", "text": f"… and {len(lines) - SHOWN_EVENTS} more", "isSubtle": True,
                     "wrap": True})
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                    "version": CARD_VERSION, "body": body}}]}


@dataclass
class TeamsSink(WebhookSink):
    kind = "teams"
    label: ClassVar[str] = "Teams workflow"
    keyed: ClassVar[bool] = False
    where: str = field(default="alerts.teams", compare=False)

    def payload(self, message: Message) -> dict:
        return card(message)
