"""A JSON webhook: ``{"text": …, "events": [...]}`` for alerts (its ``text`` reads well in chat tools that show a
``text`` field), ``{"text": …, "digest": {...}}`` for a digest. Each POST has a total deadline and carries
``Idempotency-Key`` (the batch's key: the same when a batch is sent again after a crash). With a ``secret`` the
body is signed: ``X-Spfguard-Signature: sha256=<hex HMAC-SHA256 of the raw body>``, as GitHub signs its
webhooks, so the receiver can tell spfguard's posts from anyone else's.

``webhook = "https://…"`` or ``webhook = { url = "https://…", secret = "env:HOOK_SECRET" }``."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from spfguard.monitor.alerts import Message, http_post
from spfguard.monitor.sinks import Sink
from spfguard.redact import safe_url
from spfguard.tables import ConfigError, check_keys, get_str, parse_url, resolve_secret

SIGNATURE_HEADER = "X-Spfguard-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_json(url: str, payload: dict, timeout: float = 20.0, headers: dict[str, str] | None = None,
              secret: str | None = None) -> None:
    body = json.dumps(payload).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    if secret:
        sent[SIGNATURE_HEADER] = signature(secret, body)
    http_post(url, body, sent, timeout, "webhook")


def parse_target(value: Any, where: str) -> tuple[str, str | None]:
    """A URL, or a table ``{ url = …, secret = "env:VAR" }``: (url, secret reference)."""
    if isinstance(value, dict):
        check_keys(value, where, ("url", "secret"))
        url, secret = get_str(value, "url", where), get_str(value, "secret", where)
        if not url:
            raise ConfigError(f"{where}.url: the webhook's URL is required")
        return parse_url(url, f"{where}.url"), secret
    return parse_url(value, where), None


@dataclass
class WebhookSink(Sink):
    """A channel that takes one JSON document per message at a URL (signed with a ``secret``); Slack and Teams
    are this with their own payload."""

    kind = "webhook"
    label: ClassVar[str] = "webhook"
    keyed: ClassVar[bool] = True  # sends Idempotency-Key (a chat service's webhook has no use for it)
    url: str
    secret: str | None = field(default=None, repr=False)  # a reference (env:VAR, file:PATH), resolved when sending
    where: str = field(default="alerts.webhook", compare=False)

    @classmethod
    def parse(cls, value: Any, where: str) -> Self:
        url, secret = parse_target(value, where)
        return cls(url, secret, where)

    def payload(self, message: Message) -> dict:
        if message.digest is not None:
            return {"text": message.text, "digest": message.digest}
        return {"text": message.text, "events": [e.to_json() for e in message.events]}

    def send(self, message: Message, timeout: float) -> None:
        secret = resolve_secret(self.secret, f"{self.where}.secret") if self.secret else None
        headers = {"Idempotency-Key": message.key} if self.keyed and message.key else {}
        post_json(self.url, self.payload(message), timeout, headers, secret)

    def describe(self) -> str:
        return f"{self.label} {safe_url(self.url)}"
