"""``[monitor]`` and ``[alerts]`` of spfguard.toml. Bad values name the key and what is allowed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spfguard.config import ConfigError, get_int, get_list, section
from spfguard.vendors.catalogue import load_catalogue


@dataclass
class DomainSettings:
    name: str
    expect: list[str] = field(default_factory=list)
    provider: str | None = None  # for --auto-fix


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


@dataclass
class MonitorSettings:
    state: Path
    nameservers: list[str] = field(default_factory=list)
    warn_lookups: int = 9
    domains: list[DomainSettings] = field(default_factory=list)
    webhook: str | None = None
    email: EmailSettings | None = None
    remind_after: float | None = None  # seconds
    update_endpoints: bool = False
    providers: dict[str, Any] = field(default_factory=dict)


def default_state() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "spfguard" / "monitor.sqlite"


def parse_duration(text: str, where: str) -> float:
    """'7d', '12h', '30m', '90s' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = str(text).strip().lower()
    if len(text) >= 2 and text[:-1].replace(".", "", 1).isdigit() and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    raise ConfigError(f"{where}: {text!r} is not a duration such as 7d, 12h, 30m")


def parse_monitor(config: dict[str, Any]) -> MonitorSettings:
    monitor = section(config, "monitor")
    platforms = set(load_catalogue().platforms)
    state = monitor.get("state")
    settings = MonitorSettings(
        state=Path(os.path.expanduser(state)) if isinstance(state, str) and state else default_state(),
        nameservers=get_list(monitor, "nameservers", "monitor"),
        warn_lookups=get_int(monitor, "warn_lookups", "monitor", 9, 1, 10),
        update_endpoints=bool(monitor.get("update_endpoints", False)),
        providers=section(config, "providers"),
    )
    if "remind_after" in monitor:
        settings.remind_after = parse_duration(monitor["remind_after"], "monitor.remind_after")
    domains = monitor.get("domains", [])
    if not isinstance(domains, list) or not domains:
        raise ConfigError("monitor.domains: add at least one [[monitor.domains]] table with a name")
    for i, entry in enumerate(domains):
        where = f"monitor.domains[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise ConfigError(f"{where}.name: must be a domain name")
        provider = entry.get("provider")
        if provider is not None and not isinstance(provider, str):
            raise ConfigError(f"{where}.provider: must be a provider name")
        settings.domains.append(DomainSettings(entry["name"].strip().lower().rstrip("."),
                                               get_list(entry, "expect", where, platforms), provider))
    alerts = section(config, "alerts")
    webhook = alerts.get("webhook")
    if webhook is not None:
        if not isinstance(webhook, str) or not webhook.startswith(("https://", "http://")):
            raise ConfigError("alerts.webhook: must be an http(s) URL")
        settings.webhook = webhook
    email = alerts.get("email")
    if email is not None:
        settings.email = _email(email)
    return settings


def _email(table: Any) -> EmailSettings:
    if not isinstance(table, dict):
        raise ConfigError("alerts.email: must be a table: { to = [...], from = \"…\", smtp = \"host:port\" }")
    to = get_list(table, "to", "alerts.email")
    sender = table.get("from")
    smtp = table.get("smtp")
    if not to or not isinstance(sender, str) or not isinstance(smtp, str):
        raise ConfigError("alerts.email: needs to = [...], from = \"address\" and smtp = \"host:port\"")
    host, _, port = smtp.rpartition(":") if ":" in smtp else (smtp, "", "25")
    if not port.isdigit():
        raise ConfigError(f"alerts.email.smtp: {smtp!r}: expected host:port")
    starttls = table.get("starttls", True)
    if not isinstance(starttls, bool):
        raise ConfigError("alerts.email.starttls: must be true or false")
    return EmailSettings(to, sender, host or smtp, int(port), starttls, table.get("user"), table.get("password"),
                         table.get("ca_file"))
