"""E-mail over SMTP (STARTTLS by default), with a total deadline however slowly the server answers. Every
message carries the headers large providers want before they accept mail (RFC 5322 §3.6: ``Date``,
``Message-ID`` in the sender's domain; RFC 3834: ``Auto-Submitted: auto-generated``, so auto-responders stay
quiet); a digest has an HTML alternative beside its plain text."""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from spfguard.errors import SpfguardError
from spfguard.hostport import parse_host_port
from spfguard.mail import mail_headers
from spfguard.monitor.alerts import AlertError, Message
from spfguard.monitor.sinks import Sink
from spfguard.net import Deadline, DeadlineExceeded
from spfguard.redact import redact
from spfguard.tables import ConfigError, check_keys, get_bool, get_list, get_str, resolve_secret

EMAIL_KEYS = ("to", "from", "smtp", "starttls", "user", "password", "ca_file")
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass
class EmailSettings:
    to: list[str]
    sender: str
    host: str
    port: int
    starttls: bool = True
    user: str | None = None  # references: env:VAR / file:PATH, resolved when sending
    password: str | None = None
    ca_file: str | None = None  # trust this CA for STARTTLS instead of the system's (internal relays)
    where: str = field(default="alerts.email", compare=False)


def parse_email(table: Any, where: str) -> EmailSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table: {{ to = [...], from = \"…\", smtp = \"host:port\" }}")
    check_keys(table, where, EMAIL_KEYS)
    to = get_list(table, "to", where)
    sender = get_str(table, "from", where)
    smtp = get_str(table, "smtp", where)
    if not to or not sender or not smtp:
        raise ConfigError(f"{where}: needs to = [...], from = \"address\" and smtp = \"host:port\"")
    for address in [*to, sender]:
        if not _ADDRESS.match(address):
            raise ConfigError(f"{where}: {address!r} is not an email address")
    host, port = parse_host_port(smtp, 25, f"{where}.smtp")
    return EmailSettings(to, sender, host, port, get_bool(table, "starttls", where, True),
                         get_str(table, "user", where), get_str(table, "password", where),
                         get_str(table, "ca_file", where), where)


def send_mail(settings: EmailSettings, subject: str, body: str, timeout: float = 20.0, *, html: str | None = None,
              key: str | None = None) -> None:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Subject"] = subject
    mail_headers(message, settings.sender, key)
    message.set_content(body + "\n")
    if html is not None:
        message.add_alternative(html, subtype="html")
    smtp = smtplib.SMTP(timeout=timeout + 1)  # per read; the total deadline below decides
    setattr(smtp, "_host", settings.host)  # noqa: B010 - the name STARTTLS checks the certificate against
    try:
        with Deadline(timeout, f"mail server {settings.host}:{settings.port}", lambda: smtp.sock):
            smtp.connect(settings.host, settings.port)
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
            if settings.user:
                user = resolve_secret(settings.user, f"{settings.where}.user")
                password = resolve_secret(settings.password or "", f"{settings.where}.password")
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
        raise AlertError(f"cannot send mail through {settings.host}:{settings.port}: {redact(err)}") from None
    finally:
        smtp.close()


@dataclass
class EmailSink(Sink):
    kind = "email"
    settings: EmailSettings

    @classmethod
    def parse(cls, value: Any, where: str) -> EmailSink:
        return cls(parse_email(value, where))

    def send(self, message: Message, timeout: float) -> None:
        send_mail(self.settings, message.subject, message.text, timeout, html=message.html, key=message.key)

    def describe(self) -> str:
        return f"email to {', '.join(self.settings.to)} via {self.settings.host}:{self.settings.port}"
