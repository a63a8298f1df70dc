"""``[monitor]`` and ``[alerts]`` of spfguard.toml. Unknown keys, wrong types and bad values name the key."""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spfguard.config import (
    ConfigError,
    check_keys,
    get_bool,
    get_int,
    get_list,
    get_number,
    get_str,
    section,
)
from spfguard.domains import load_domain_list, parse_domain
from spfguard.errors import UserError
from spfguard.hostport import parse_host_port
from spfguard.vendors.catalogue import load_catalogue

MONITOR_KEYS = ("state", "nameservers", "warn_lookups", "remind_after", "update_endpoints", "domains",
                "domains_file", "keep_runs", "max_qps", "timeout", "retries")
DOMAIN_KEYS = ("name", "expect", "provider", "tenant", "tags", "parked")
ALERT_KEYS = ("webhook", "email", "tenants", "timeout")
ROUTE_KEYS = ("webhook", "email")
EMAIL_KEYS = ("to", "from", "smtp", "starttls", "user", "password", "ca_file")


@dataclass
class DomainSettings:
    name: str
    expect: list[str] = field(default_factory=list)
    provider: str | None = None  # for --auto-fix
    tenant: str | None = None
    tags: list[str] = field(default_factory=list)
    parked: bool = False


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
class Route:
    """Where alerts go: a webhook, an email, both or neither."""

    webhook: str | None = None
    email: EmailSettings | None = None

    def __bool__(self) -> bool:
        return bool(self.webhook or self.email)


@dataclass
class AlertSettings:
    default: Route = field(default_factory=Route)
    tenants: dict[str, Route] = field(default_factory=dict)
    timeout: float = 20.0  # total seconds for one delivery, however slowly the other end answers

    def route(self, tenant: str | None) -> Route:
        return self.tenants.get(tenant or "", self.default)


@dataclass
class MonitorSettings:
    state: str  # a SQLite file, or postgresql://… (shared by the shards of a fleet)
    nameservers: list[str] = field(default_factory=list)
    warn_lookups: int = 9
    domains: list[DomainSettings] = field(default_factory=list)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    remind_after: float | None = None  # seconds
    update_endpoints: bool = False
    providers: dict[str, Any] = field(default_factory=dict)
    keep_runs: int | None = None
    max_qps: float | None = None
    timeout: float = 2.0
    retries: int = 2

    @property
    def webhook(self) -> str | None:
        return self.alerts.default.webhook

    @property
    def email(self) -> EmailSettings | None:
        return self.alerts.default.email


def default_state() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return str(Path(base) / "spfguard" / "monitor.sqlite")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: Any, where: str, minimum: float = 0.0) -> float:
    """'7d', '12h', '30m', '90s' -> seconds; ``minimum`` refuses values below a sane floor."""
    match = _DURATION.fullmatch(str(text).strip().lower())
    if not match:
        raise UserError(f"{where}: {text!r} is not a duration such as 7d, 12h, 30m or 90s")
    seconds = float(match.group(1)) * UNITS[match.group(2)]
    if seconds < minimum:
        raise UserError(f"{where}: {text!r} is too short (at least {minimum:g} seconds)")
    return seconds


def parse_url(value: Any, where: str) -> str:
    """An http(s) URL that urllib can send as is: ASCII, no spaces, a host."""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a URL string")
    bad = next((c for c in value if ord(c) <= 0x20 or ord(c) >= 0x7f), None)
    if bad is not None:
        raise ConfigError(f"{where}: {value!r} is not a valid URL: the character {bad!r} must be "
                          "percent-encoded (a placeholder left in?)")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: {value!r} is not an http(s) URL with a host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{where}: {value!r} has an invalid port") from None
    return value


def parse_monitor(config: dict[str, Any], base: Path | None = None) -> MonitorSettings:
    """``base``: the directory relative paths (state, domains_file) are taken from — the config's own."""
    monitor = section(config, "monitor")
    check_keys(monitor, "[monitor]", MONITOR_KEYS)
    platforms = load_catalogue().platforms
    state = get_str(monitor, "state", "monitor")
    if state and state.startswith(("postgresql://", "postgres://")):
        location = state
    else:
        location = str(_path(state, base)) if state else default_state()
    settings = MonitorSettings(
        state=location,
        nameservers=get_list(monitor, "nameservers", "monitor"),
        warn_lookups=get_int(monitor, "warn_lookups", "monitor", 9, 1, 10),
        update_endpoints=get_bool(monitor, "update_endpoints", "monitor", False),
        providers=section(config, "providers"),
        alerts=parse_alerts(config),
        timeout=get_number(monitor, "timeout", "monitor", 2.0, 0.05, 60),
        retries=get_int(monitor, "retries", "monitor", 2, 0, 10),
    )
    for server in settings.nameservers:
        parse_host_port(server, 53, "monitor.nameservers")
    if "remind_after" in monitor:
        settings.remind_after = parse_duration(monitor["remind_after"], "monitor.remind_after")
    if "keep_runs" in monitor:
        settings.keep_runs = get_int(monitor, "keep_runs", "monitor", 30, 1, 100_000)
    if "max_qps" in monitor:
        settings.max_qps = get_number(monitor, "max_qps", "monitor", 100, 1, 100_000)
    tables = monitor.get("domains", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError("monitor.domains: expected [[monitor.domains]] tables")
    entries = [_domain_table(t, f"monitor.domains[{i}]", platforms) for i, t in enumerate(tables)]
    domains_file = get_str(monitor, "domains_file", "monitor")
    if domains_file:
        path = _path(domains_file, base)
        for entry in load_domain_list(path):
            where = f"{path}: {entry.name}"
            get_list({"expect": entry.expect}, "expect", where, platforms)
            entries.append(DomainSettings(entry.name, entry.expect, entry.provider, entry.tenant, entry.tags,
                                          entry.parked))
    if not entries:
        raise ConfigError("[monitor]: no domains: add [[monitor.domains]] tables (name = \"example.com\") or "
                          "domains_file = \"domains.csv\"")
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise ConfigError(f"monitor.domains: {entry.name} is listed twice")
        seen.add(entry.name)
    settings.domains = entries
    return settings


def _path(text: str, base: Path | None) -> Path:
    path = Path(os.path.expanduser(text))
    return path if path.is_absolute() or base is None else base / path


def _domain_table(entry: dict, where: str, platforms) -> DomainSettings:
    check_keys(entry, where, DOMAIN_KEYS)
    name = get_str(entry, "name", where)
    if not name:
        raise ConfigError(f"{where}.name: must be a domain name")
    return DomainSettings(parse_domain(name, f"{where}.name"), get_list(entry, "expect", where, platforms),
                          get_str(entry, "provider", where), get_str(entry, "tenant", where),
                          get_list(entry, "tags", where), get_bool(entry, "parked", where, False))


def parse_alerts(config: dict[str, Any]) -> AlertSettings:
    alerts = section(config, "alerts")
    check_keys(alerts, "[alerts]", ALERT_KEYS)
    settings = AlertSettings(_route(alerts, "alerts"), timeout=get_number(alerts, "timeout", "alerts", 20, 1, 600))
    tenants = section(alerts, "tenants", "[alerts]")
    for name, table in tenants.items():
        where = f"alerts.tenants.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table with webhook and/or email")
        check_keys(table, where, ROUTE_KEYS)
        route = _route(table, where)
        if not route:
            raise ConfigError(f"{where}: give a webhook or an email route")
        settings.tenants[name] = route
    return settings


def _route(table: dict, where: str) -> Route:
    route = Route()
    if table.get("webhook") is not None:
        route.webhook = parse_url(table["webhook"], f"{where}.webhook")
    if table.get("email") is not None:
        route.email = _email(table["email"], f"{where}.email")
    return route


_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _email(table: Any, where: str) -> EmailSettings:
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
                         get_str(table, "ca_file", where))
