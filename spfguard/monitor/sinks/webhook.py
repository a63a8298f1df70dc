"""A JSON webhook: ``{"text": …, "events": [...]}`` for alerts (its ``text`` reads well in chat tools that show a
``text`` field), ``{"text": …, "digest": {...}}`` for a digest. Each POST has a total deadline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from spfguard.monitor.alerts import AlertError, Message
from spfguard.monitor.sinks import Sink
from spfguard.net import DeadlineExceeded, http_request
from spfguard.redact import redact, safe_url
from spfguard.tables import parse_url


def post_json(url: str, payload: dict, timeout: float = 20.0, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload).encode()
    try:
        status, _ = http_request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})},
                                 timeout=timeout)
    except DeadlineExceeded as err:
        raise AlertError(f"webhook {safe_url(url)}: {err}") from None
    except OSError as err:
        raise AlertError(f"webhook {safe_url(url)} unreachable: {redact(err.strerror or err)}") from None
    if status >= 300:
        raise AlertError(f"webhook {safe_url(url)} answered HTTP {status}")


@dataclass
class WebhookSink(Sink):
    kind = "webhook"
    url: str

    @classmethod
    def parse(cls, value: Any, where: str) -> WebhookSink:
        return cls(parse_url(value, where))

    def payload(self, message: Message) -> dict:
        if message.digest is not None:
            return {"text": message.text, "digest": message.digest}
        return {"text": message.text, "events": [e.to_json() for e in message.events]}

    def send(self, message: Message, timeout: float) -> None:
        post_json(self.url, self.payload(message), timeout)

    def describe(self) -> str:
        return f"webhook {safe_url(self.url)}"
