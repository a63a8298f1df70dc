"""Microsoft Teams through a Workflows webhook ("Send webhook alerts to a channel", which replaced the Office
365 connectors): a message with one Adaptive Card attachment (``application/vnd.microsoft.card.adaptive``,
schema version 1.4) — the subject as a bold heading, then one wrapped TextBlock per event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spfguard.monitor.alerts import Message
from spfguard.monitor.sinks import Sink
from spfguard.monitor.sinks.webhook import parse_target, post_json
from spfguard.redact import safe_url
from spfguard.tables import resolve_secret

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
class TeamsSink(Sink):
    kind = "teams"
    url: str
    secret: str | None = field(default=None, repr=False)
    where: str = field(default="alerts.teams", compare=False)

    @classmethod
    def parse(cls, value: Any, where: str) -> TeamsSink:
        url, secret = parse_target(value, where)
        return cls(url, secret, where)

    def send(self, message: Message, timeout: float) -> None:
        secret = resolve_secret(self.secret, f"{self.where}.secret") if self.secret else None
        post_json(self.url, card(message), timeout, secret=secret)

    def describe(self) -> str:
        return f"Teams workflow {safe_url(self.url)}"
