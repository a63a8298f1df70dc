"""The ``rua=`` mailbox: DMARC aggregate reports read continuously, as dmarcian or parsedmarc itself do.

``[dmarc]`` in spfguard.toml names a mailbox (and ``[dmarc.tenants.NAME]`` one per tenant); the connection is
parsedmarc's — IMAP, Microsoft Graph, the Gmail API or a Maildir, the implementations of ``mailsuite`` that
``parsedmarc.mail`` re-exports — so no protocol is written here. Each message is read with the same reader as
``--dmarc-reports`` (zip, gzip, e-mail; rows validated), its reports are stored in the monitor's store
(de-duplicated by reporter, report id, period and policy domain) and only then is the message moved to the archive
folder: a run that fails half-way leaves the rest in the inbox for the next one, and a report stored twice is one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spfguard.errors import UserError, first_line
from spfguard.redact import redact, remember
from spfguard.senders.reports import AggregateReport, Reading, read_document
from spfguard.tables import (
    check_keys,
    get_bool,
    get_int,
    get_str,
    parse_duration,
    resolve_path,
    resolve_secret,
    section,
    xdg_state_home,
)

log = logging.getLogger(__name__)

KINDS = ("imap", "maildir", "graph", "gmail")
COMMON_KEYS = ("mailbox", "folder", "archive")
KIND_KEYS = {
    "imap": ("host", "port", "tls", "verify", "user", "password", "timeout"),
    "maildir": ("path", "create"),
    "graph": ("auth_method", "address", "client_id", "client_secret", "tenant_id", "username", "password",
              "token_file", "graph_url"),
    "gmail": ("credentials_file", "token_file", "oauth2_port"),
}
TOP_KEYS = ("retention", "window", "silent_after", "tenants")
DAY = 86400.0


@dataclass
class MailboxSettings:
    kind: str
    where: str  # "[dmarc]" or "[dmarc.tenants.NAME]", for messages
    tenant: str | None = None
    folder: str = "INBOX"
    archive: str = "Archive"
    options: dict[str, Any] = field(default_factory=dict)  # the kind's keys; secrets still as references

    @property
    def label(self) -> str:
        target = self.options.get("host") or self.options.get("path") or self.options.get("address") or self.kind
        return f"{self.kind}:{target}/{self.folder}"


@dataclass
class DmarcSettings:
    mailboxes: list[MailboxSettings] = field(default_factory=list)
    retention: float = 400 * DAY  # reports older than this are deleted from the store
    window: float = 30 * DAY  # the monitor judges senders over the reports of this period
    silent_after: float = 30 * DAY  # an included platform silent this long is "sender-stopped"


def parse_dmarc(raw: dict[str, Any], base: Path | None) -> DmarcSettings | None:
    """``[dmarc]``, checked key by key; None without the table."""
    if "dmarc" not in raw:
        return None
    table = section(raw, "dmarc")
    kind = table.get("mailbox")
    allowed = (*TOP_KEYS, *COMMON_KEYS, *(KIND_KEYS.get(kind, ()) if isinstance(kind, str) else ()))
    check_keys(table, "[dmarc]", allowed)
    settings = DmarcSettings(
        retention=parse_duration(table.get("retention", "400d"), "[dmarc] retention", DAY),
        window=parse_duration(table.get("window", "30d"), "[dmarc] window", DAY),
        silent_after=parse_duration(table.get("silent_after", "30d"), "[dmarc] silent_after", DAY))
    if "mailbox" in table:
        settings.mailboxes.append(_mailbox({k: v for k, v in table.items() if k not in TOP_KEYS}, "[dmarc]",
                                           None, base))
    tenants = section(table, "tenants", "[dmarc]")
    for name, spec in tenants.items():
        where = f"[dmarc.tenants.{name}]"
        if not isinstance(spec, dict):
            raise UserError(f"{where} must be a table")
        settings.mailboxes.append(_mailbox(spec, where, name, base))
    return settings


def _mailbox(table: dict[str, Any], where: str, tenant: str | None, base: Path | None) -> MailboxSettings:
    kind = get_str(table, "mailbox", where)
    if kind not in KINDS:
        raise UserError(f"{where} mailbox: expected one of {', '.join(KINDS)}, not {kind!r}")
    check_keys(table, where, (*COMMON_KEYS, *KIND_KEYS[kind]))
    options: dict[str, Any] = {k: v for k, v in table.items() if k in KIND_KEYS[kind]}
    if kind == "imap":
        for key in ("host", "user", "password"):
            if not get_str(table, key, where):
                raise UserError(f"{where}: an IMAP mailbox needs {key} = …")
        tls = get_str(table, "tls", where, "ssl")
        if tls not in ("ssl", "starttls", "none"):
            raise UserError(f"{where} tls: expected ssl, starttls or none, not {tls!r}")
        options.update(tls=tls, verify=get_bool(table, "verify", where, True),
                       port=get_int(table, "port", where, 993 if tls == "ssl" else 143, 1, 65535),
                       timeout=get_int(table, "timeout", where, 30, 1, 600))
    elif kind == "maildir":
        if not get_str(table, "path", where):
            raise UserError(f"{where}: a Maildir needs path = …")
        options["path"] = str(resolve_path(table["path"], base))
        options["create"] = get_bool(table, "create", where, False)
    elif kind == "graph":
        for key in ("address", "client_id", "tenant_id"):
            if not get_str(table, key, where):
                raise UserError(f"{where}: a Microsoft Graph mailbox needs {key} = …")
    elif kind == "gmail":
        for key in ("credentials_file", "token_file"):
            if not get_str(table, key, where):
                raise UserError(f"{where}: a Gmail mailbox needs {key} = …")
            options[key] = str(resolve_path(table[key], base))
    return MailboxSettings(kind, where, tenant, get_str(table, "folder", where, "INBOX") or "INBOX",
                           get_str(table, "archive", where, "Archive") or "Archive", options)


def _secret(settings: MailboxSettings, key: str) -> str | None:
    reference = settings.options.get(key)
    if reference is None:
        return None
    value = resolve_secret(reference, f"{settings.where} {key}")
    remember(value)
    return value


def connect(settings: MailboxSettings):
    """The mailbox connection (parsedmarc's); one line naming the mailbox when it cannot be opened."""
    try:
        from parsedmarc import mail
    except ImportError:
        raise UserError("reading the DMARC mailbox needs parsedmarc: `pipx inject spfguard parsedmarc` (or "
                        "`pip install 'spfguard[dmarc]'`)") from None
    o = settings.options
    try:
        if settings.kind == "imap":
            return mail.IMAPConnection(o["host"], o["user"], _secret(settings, "password"), port=o["port"],
                                       ssl=o["tls"] == "ssl", verify=o["verify"], timeout=o["timeout"],
                                       max_retries=1, starttls=True if o["tls"] == "starttls" else
                                       False if o["tls"] == "none" else None)
        if settings.kind == "maildir":
            if not o["create"] and not Path(o["path"]).is_dir():
                raise UserError(f"{settings.where} path: {o['path']} is not a Maildir (create = true makes one)")
            return mail.MaildirConnection(o["path"], o["create"])
        if settings.kind == "graph":
            return mail.MSGraphConnection(
                auth_method=o.get("auth_method", "ClientSecret"), mailbox=o["address"], client_id=o["client_id"],
                client_secret=_secret(settings, "client_secret"), username=o.get("username"),
                password=_secret(settings, "password"), tenant_id=o["tenant_id"],
                token_file=str(o.get("token_file") or xdg_state_home() / "graph-token"),
                allow_unencrypted_storage=False, graph_url=o.get("graph_url"))
        return mail.GmailConnection(token_file=o["token_file"], credentials_file=o["credentials_file"],
                                    scopes=["https://www.googleapis.com/auth/gmail.modify"], include_spam_trash=False,
                                    reports_folder=settings.folder, oauth2_port=int(o.get("oauth2_port", 8080)),
                                    paginate_messages=True)
    except UserError:
        raise
    except ImportError as err:
        raise UserError(f"{settings.where}: the {settings.kind} mailbox needs an extra of parsedmarc "
                        f"({first_line(err)})") from None
    except Exception as err:  # noqa: BLE001 - imaplib, socket, ssl, msal …: one line, the password never shown
        raise UserError(f"{settings.where}: cannot open the mailbox {settings.label}: "
                        f"{redact(first_line(err, type(err).__name__))}") from None


@dataclass
class Ingested:
    mailbox: str
    messages: int = 0
    reports: int = 0  # aggregate reports read
    stored: int = 0  # of those, new to the store
    moved: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (message, why): failure or TLS reports …
    errors: list[str] = field(default_factory=list)


def ingest(connection, settings: MailboxSettings, store: Callable[[list[AggregateReport]], int]) -> Ingested:
    """Every message of the folder: its reports read and stored (``store`` returns how many were new), then the
    message moved to the archive folder — all stored before any is moved."""
    done = Ingested(settings.label)
    try:
        ids = list(connection.fetch_messages(settings.folder))
        reading, seen = Reading(), dict[tuple[str, str, str, str, str], str]()
        read_ids = []
        for message_id in ids:
            label = f"{settings.label}#{message_id}"
            raw = connection.fetch_message(message_id)
            data = raw.encode("utf-8", "replace") if isinstance(raw, str) else bytes(raw)
            before = len(reading.reports) + reading.duplicates
            read_document(data, label, None, reading, seen)
            if len(reading.reports) + reading.duplicates == before and not any(
                    where.startswith(label) for where, _ in reading.skipped):
                reading.skipped.append((label, "no DMARC aggregate report in it"))
            read_ids.append(message_id)
        done.messages, done.reports = len(read_ids), len(reading.reports)
        done.skipped = reading.skipped
        done.stored = store(reading.reports)
        if read_ids:
            _archive_folder(connection, settings.archive)
        for message_id in read_ids:
            try:
                connection.move_message(message_id, settings.archive)
                done.moved += 1
            except Exception as err:  # noqa: BLE001 - stored already: it is read again next time, once
                done.errors.append(f"{settings.label}: message {message_id} not moved to {settings.archive}: "
                                   f"{redact(first_line(err, type(err).__name__))}")
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - the server went away, a folder is missing …
        done.errors.append(f"{settings.label}: {redact(first_line(err, type(err).__name__))}")
    return done


def _archive_folder(connection, name: str) -> None:
    try:
        if not connection.folder_exists(name):
            connection.create_folder(name)
    except NotImplementedError:
        pass
