"""What an alert or a digest says, the same for every channel (:mod:`spfguard.monitor.sinks`): a one-line
subject of bounded length ("3 domains over the lookup limit: a.org, b.org and 1 more"), a plain-text body with
text from DNS escaped, and the events themselves for channels that carry data (JSON keeps exact values)."""

from __future__ import annotations

from dataclasses import dataclass, field

from spfguard.errors import IncompleteError
from spfguard.monitor.drift import Event
from spfguard.textsafe import safe

MAX_SUBJECT = 160  # characters: mail clients and chat previews cut longer ones anyway
NAMES_IN_SUBJECT = 3

# what one kind of event says of the domains it concerns, for a subject line
PHRASES = {
    "lookups-over-limit": "over the lookup limit",
    "lookups-near-limit": "near the lookup limit",
    "void-over-limit": "over the void-lookup limit",
    "coverage-lost": "no longer authorising a platform fully",
    "spf-error": "with an SPF error",
    "check-failing": "failing to check",
    "record-changed": "with a changed SPF record",
    "ranges-changed": "with a vendor's ranges changed",
    "resolved": "with a problem resolved",
}


class AlertError(IncompleteError):
    """A channel refused a message or did not answer in time (the message stays in the outbox)."""


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float, what: str) -> None:
    """POST ``body`` to a channel's URL; a deadline, an unreachable host or a non-2xx answer is an AlertError
    naming ``what`` and the URL without its secret parts (webhooks, chat channels and the heartbeat)."""
    from spfguard.net import DeadlineExceeded, http_request
    from spfguard.redact import redact, safe_url

    try:
        status, _ = http_request(url, data=body, headers=headers, timeout=timeout)
    except DeadlineExceeded as err:
        raise AlertError(f"{what} {safe_url(url)}: {err}") from None
    except OSError as err:
        raise AlertError(f"{what} {safe_url(url)} unreachable: {redact(err.strerror or err)}") from None
    if status >= 300:
        raise AlertError(f"{what} {safe_url(url)} answered HTTP {status}")


@dataclass
class Message:
    subject: str
    text: str
    events: list[Event] = field(default_factory=list)  # an alert: the events it reports
    digest: dict | None = None  # a digest: its JSON form
    html: str | None = None  # a digest's HTML alternative (mail)
    key: str | None = None  # the batch's idempotency key: the same when a batch is sent again after a crash


def listing(names: list[str], shown: int = NAMES_IN_SUBJECT) -> str:
    """"a.org, b.org and 3 more"."""
    if len(names) <= shown:
        return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + (names[-1] if names else "")
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def subject(events: list[Event], title: str = "") -> str:
    domains = sorted({e.domain for e in events if e.domain != "*"})
    codes = {e.code for e in events}
    count = f"{len(domains)} domain{'s' if len(domains) != 1 else ''}"
    if len(codes) == 1 and (phrase := PHRASES.get(next(iter(codes)))) and domains:
        head = f"{count} {phrase}"
    else:
        head = f"{len(events)} SPF event{'s' if len(events) != 1 else ''}" + (f" for {count}" if domains else "")
    line = safe(f"spfguard: {head}{title}" + (f": {listing(domains)}" if domains else ""))
    return line if len(line) <= MAX_SUBJECT else line[:MAX_SUBJECT - 1] + "…"


def summary(events: list[Event], title: str = "") -> str:
    return "\n".join([subject(events, title), *(f"• [{e.code}] {safe(e.message)}" for e in events)])


def alert_message(events: list[Event], title: str = "", key: str | None = None) -> Message:
    return Message(subject(events, title), summary(events, title), list(events), key=key)
