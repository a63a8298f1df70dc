"""Alert sinks: a JSON webhook (its ``text`` field reads well in Slack and Teams) and email over SMTP."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage

from spfguard.config import resolve_secret
from spfguard.monitor.drift import Event
from spfguard.monitor.settings import EmailSettings


class AlertError(Exception):
    pass


def summary(events: list[Event]) -> str:
    domains = sorted({e.domain for e in events})
    head = f"spfguard: {len(events)} SPF event{'s' if len(events) != 1 else ''} for {', '.join(domains)}"
    return "\n".join([head, *(f"• [{e.code}] {e.message}" for e in events)])


def send_webhook(url: str, events: list[Event], timeout: float = 10.0) -> None:
    body = json.dumps({"text": summary(events), "events": [e.to_json() for e in events]}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json", "User-Agent": "spfguard"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
            if response.status >= 300:
                raise AlertError(f"webhook answered HTTP {response.status}")
    except urllib.error.HTTPError as err:
        raise AlertError(f"webhook answered HTTP {err.code}") from None
    except (urllib.error.URLError, OSError) as err:
        raise AlertError(f"webhook unreachable: {getattr(err, 'reason', err)}") from None


def send_email(settings: EmailSettings, events: list[Event], timeout: float = 20.0) -> None:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Subject"] = summary(events).splitlines()[0]
    message.set_content(summary(events) + "\n")
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
            if settings.user:
                user = resolve_secret(settings.user, "alerts.email.user")
                password = resolve_secret(settings.password or "", "alerts.email.password")
                smtp.login(user, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as err:
        raise AlertError(f"mail server {settings.host} refused the login ({err.smtp_code})") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as err:
        raise AlertError(f"cannot send mail through {settings.host}:{settings.port}: {err}") from None
