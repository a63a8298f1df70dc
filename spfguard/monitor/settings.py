"""``[monitor]`` and ``[alerts]`` of spfguard.toml, typed. Unknown keys, wrong types and bad values name the key;
relative paths (``state``, ``domains_file``) are taken from the config file's folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spfguard.domains import load_domain_list, parse_domain
from spfguard.hostport import parse_host_port
from spfguard.monitor.heartbeat import Heartbeat, parse_heartbeat
from spfguard.monitor.location import StateLocation, state_location
from spfguard.monitor.sinks import SINKS, Sink, parse_sink
from spfguard.tables import (
    ConfigError,
    check_keys,
    get_bool,
    get_int,
    get_list,
    get_number,
    get_str,
    parse_duration,
    resolve_path,
    section,
)

MONITOR_KEYS = ("state", "nameservers", "warn_lookups", "remind_after", "update_endpoints", "domains",
                "domains_file", "keep_runs", "max_qps", "timeout", "retries")
DOMAIN_KEYS = ("name", "expect", "provider", "tenant", "tags", "parked")


@dataclass(slots=True)  # a fleet holds 100,000 of them
class DomainSettings:
    name: str
    expect: list[str] = field(default_factory=list)
    provider: str | None = None  # for --auto-fix
    tenant: str | None = None
    tags: list[str] = field(default_factory=list)
    parked: bool = False


@dataclass
class Route:
    """Where alerts go: the sinks of one route (a tenant's, or the default), by kind."""

    sinks: dict[str, Sink] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.sinks)


@dataclass
class AlertSettings:
    default: Route = field(default_factory=Route)
    tenants: dict[str, Route] = field(default_factory=dict)
    timeout: float = 20.0  # total seconds for one delivery, however slowly the other end answers
    lease: float = 300.0  # seconds a sender keeps its claim on deliveries it is sending
    heartbeat: Heartbeat | None = None  # pinged at the end of every run

    def route_name(self, tenant: str | None) -> str:
        return tenant if tenant is not None and tenant in self.tenants else "default"

    def route(self, tenant: str | None) -> Route:
        name = self.route_name(tenant)
        return self.default if name == "default" else self.tenants[name]

    def named(self, name: str) -> Route | None:
        return self.default if name == "default" else self.tenants.get(name)


@dataclass
class MonitorSettings:
    state: StateLocation  # a SQLite file, or postgresql://… (shared by the shards of a fleet)
    nameservers: list[str] = field(default_factory=list)
    warn_lookups: int = 9
    domains: list[DomainSettings] = field(default_factory=list)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    remind_after: float | None = None  # seconds
    update_endpoints: bool = False
    keep_runs: int | None = None
    max_qps: float | None = None
    timeout: float = 2.0
    retries: int = 2


def parse_monitor(config: dict[str, Any], base: Path | None, platforms) -> MonitorSettings:
    """``base``: the directory relative paths (state, domains_file) are taken from — the config's own;
    ``platforms``: the names ``expect`` may use."""
    monitor = section(config, "monitor")
    check_keys(monitor, "[monitor]", MONITOR_KEYS)
    settings = MonitorSettings(
        state=state_location(get_str(monitor, "state", "monitor"), base),
        nameservers=get_list(monitor, "nameservers", "monitor"),
        warn_lookups=get_int(monitor, "warn_lookups", "monitor", 9, 1, 10),
        update_endpoints=get_bool(monitor, "update_endpoints", "monitor", False),
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
        path = resolve_path(domains_file, base)
        for listed in load_domain_list(path):
            where = f"{path}: {listed.name}"
            get_list({"expect": listed.expect}, "expect", where, platforms)
            entries.append(DomainSettings(listed.name, listed.expect, listed.provider, listed.tenant, listed.tags,
                                          listed.parked))
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
    check_keys(alerts, "[alerts]", (*SINKS, "tenants", "timeout", "lease", "heartbeat"))
    settings = AlertSettings(_route(alerts, "alerts"), timeout=get_number(alerts, "timeout", "alerts", 20, 1, 600))
    if alerts.get("heartbeat") is not None:
        settings.heartbeat = parse_heartbeat(alerts["heartbeat"], "alerts.heartbeat")
    if "lease" in alerts:
        settings.lease = parse_duration(alerts["lease"], "alerts.lease", 1)
    if settings.lease < settings.timeout:
        raise ConfigError(f"alerts.lease: {settings.lease:g}s is shorter than alerts.timeout "
                          f"({settings.timeout:g}s): a slow send would lose its claim while it is still sending")
    tenants = section(alerts, "tenants", "[alerts]")
    for name, table in tenants.items():
        where = f"alerts.tenants.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table with {' and/or '.join(SINKS)}")
        check_keys(table, where, tuple(SINKS))
        route = _route(table, where)
        if not route:
            raise ConfigError(f"{where}: give at least one channel ({', '.join(SINKS)})")
        settings.tenants[name] = route
    return settings


def _route(table: dict, where: str) -> Route:
    return Route({kind: parse_sink(kind, table[kind], f"{where}.{kind}") for kind in SINKS
                  if table.get(kind) is not None})
