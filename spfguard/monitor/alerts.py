"""Alert sinks: a JSON webhook (its ``text`` field reads well in Slack and Teams) and email over SMTP. Each
delivery has a total deadline (:mod:`spfguard.net`): a sink that trickles or never answers fails in time, with a
reason, and the run goes on. Text from DNS is escaped in the human-readable parts; JSON keeps exact values."""

from __future__ import annotations

import json
import smtplib
import ssl
from email.message import EmailMessage

from spfguard.config import resolve_secret
from spfguard.errors import SpfguardError
from spfguard.monitor.drift import Event
from spfguard.monitor.settings import EmailSettings
from spfguard.net import Deadline, DeadlineExceeded, http_request
from spfguard.report.escape import safe


class AlertError(Exception):
    pass


def summary(events: list[Event], title: str = "") -> str:
    domains = sorted({e.domain for e in events})
    head = f"spfguard: {len(events)} SPF event{'s' if len(events) != 1 else ''}{title} for {', '.join(domains)}"
    return "\n".join([safe(head), *(f"• [{e.code}] {safe(e.message)}" for e in events)])


def post_json(url: str, payload: dict, timeout: float = 20.0) -> None:
    body = json.dumps(payload).encode()
    try:
        status, _ = http_request(url, data=body, headers={"Content-Type": "application/json"}, timeout=timeout)
    except DeadlineExceeded as err:
        raise AlertError(f"webhook: {err}") from None
    except OSError as err:
        raise AlertError(f"webhook unreachable: {err.strerror or err}") from None
    if status >= 300:
        raise AlertError(f"webhook answered HTTP {status}")


def send_webhook(url: str, events: list[Event], timeout: float = 20.0, title: str = "") -> None:
    post_json(url, {"text": summary(events, title), "events": [e.to_json() for e in events]}, timeout)


def send_mail(settings: EmailSettings, subject: str, body: str, timeout: float = 20.0) -> None:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Subject"] = subject
    message.set_content(body + "\n")
    smtp = smtplib.SMTP(timeout=timeout + 1)  # per read; the total deadline below decides
    smtp._host = settings.host  # the name STARTTLS checks the certificate against (set by __init__ only)
    try:
        with Deadline(timeout, f"mail server {settings.host}:{settings.port}", lambda: smtp.sock):
            smtp.connect(settings.host, settings.port)
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
            if settings.user:
                user = resolve_secret(settings.user, "alerts.email.user")
                password = resolve_secret(settings.password or "", "alerts.email.password")
                smtp.login(user, password)
            smtp.send_message(message)
            smtp.quit()
    except DeadlineExceeded as err:
        raise AlertError(str(err)) from None
    except smtplib.SMTPAuthenticationError as err:
        raise AlertError(f"mail server {settings.host} refused the login ({err.smtp_code})") from None
    except SpfguardError as err:  # a secret reference that cannot be resolved
        raise AlertError(str(err)) from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as err:
        raise AlertError(f"cannot send mail through {settings.host}:{settings.port}: {err}") from None
    finally:
        smtp.close()


def send_email(settings: EmailSettings, events: list[Event], timeout: float = 20.0, title: str = "") -> None:
    text = summary(events, title)
    send_mail(settings, text.splitlines()[0], text, timeout)
