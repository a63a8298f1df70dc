"""The connector configuration (TOML) and its validation. Bad values name the key and the allowed values."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from spfguard.errors import UserError
from spfguard.hostport import parse_host_port
from spfguard.tables import ConfigError, check_keys

TLS_SETTINGS = {"any": "EncryptionOnly", "ca": "CertificateValidation", "domain": "DomainValidation"}
SEVERITIES = ("DoNotAudit", "Low", "Medium", "High")
MODES = ("Enforce", "Audit", "AuditAndNotify")
_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.I)
_HOST = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Tls:
    mode: str  # any | ca | domain
    domain: str | None = None  # for mode "domain": the pattern the certificate must match

    @property
    def exchange_setting(self) -> str:
        return TLS_SETTINGS[self.mode]

    def __str__(self) -> str:
        return f"domain:{self.domain}" if self.mode == "domain" else self.mode


@dataclass(frozen=True)
class SmartHost:
    host: str
    port: int = 25

    def __str__(self) -> str:
        return self.host if self.port == 25 else f"{self.host}:{self.port}"


@dataclass
class Rule:
    name: str
    recipient_domains: list[str]
    except_sender_domains: list[str] = field(default_factory=list)
    severity: str = "High"
    stop_processing: bool = True
    priority: int = 0
    mode: str = "Enforce"


@dataclass
class Connector:
    name: str
    smart_hosts: list[SmartHost]
    tls: Tls
    scope: str  # transport-rule | domains | all-accepted-domains
    scope_domains: list[str] = field(default_factory=list)
    validation_recipients: list[str] = field(default_factory=list)
    rule: Rule | None = None

    @property
    def domains(self) -> list[str]:
        """The domains whose mail takes this route (the rule's, or the connector's own)."""
        if self.rule is not None:
            return self.rule.recipient_domains
        return self.scope_domains

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["smart_hosts"] = [str(h) for h in self.smart_hosts]
        data["tls"] = {"setting": str(self.tls), "exchange": self.tls.exchange_setting, "domain": self.tls.domain}
        return data


def _str(table: dict, key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key}: must be a non-empty string")
    return value.strip()


def _list(table: dict, key: str, where: str, check=None, what: str = "") -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: must be a list of strings")
    for v in value:
        if check is not None and not check(v):
            raise ConfigError(f"{where}.{key}: {v!r} is not {what}")
    return [v.strip() for v in value]


def _choice(table: dict, key: str, where: str, allowed: tuple[str, ...], default: str) -> str:
    value = table.get(key, default)
    match = next((a for a in allowed if isinstance(value, str) and a.lower() == value.lower()), None)
    if match is None:
        raise ConfigError(f"{where}.{key}: {value!r} is not allowed (allowed: {', '.join(allowed)})")
    return match


def parse_tls(value: Any, where: str = "connector.tls") -> Tls:
    if isinstance(value, str):
        if value in ("any", "ca"):
            return Tls(value)
        if value.startswith("domain:") and _DOMAIN.match(value[7:]):
            return Tls("domain", value[7:].lower())
    raise ConfigError(f"{where}: {value!r} is not allowed (allowed: any, ca, \"domain:*.contoso.com\")")


def parse_smart_host(text: str, where: str = "connector.smart_hosts") -> SmartHost:
    host, port = parse_host_port(text, 25, where)
    return SmartHost(host, port)


CONNECTOR_KEYS = ("name", "smart_hosts", "tls", "scope", "validation_recipients")
RULE_KEYS = ("name", "recipient_domains", "except_sender_domains", "severity", "stop_processing", "priority", "mode")


class _Problems:
    """Collects every problem of a file, so that all are reported at once."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def take(self, parse, *args, default=None, **kwargs):
        try:
            return parse(*args, **kwargs)
        except UserError as err:
            self.messages.append(str(err))
            return default


def parse_connector(config: dict[str, Any], source: str = "connector file") -> Connector:
    """The whole file; every problem in it is reported in one message."""
    problems = _Problems()
    problems.take(check_keys, config, source, ("connector", "rule"), tables=True)
    table = config.get("connector")
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: missing [connector] table")
    problems.take(check_keys, table, "[connector]", CONNECTOR_KEYS)
    name = problems.take(_str, table, "name", "connector", default="")
    if len(name) > 64:
        problems.messages.append("connector.name: at most 64 characters (Exchange's limit)")
    hosts = table.get("smart_hosts")
    smart_hosts: list[SmartHost] = []
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
        problems.messages.append("connector.smart_hosts: must be a non-empty list of host names or IP addresses")
    else:
        smart_hosts = [h for h in (problems.take(parse_smart_host, h) for h in hosts) if h is not None]
    tls = problems.take(parse_tls, table.get("tls", "any"), default=Tls("any"))
    scope_value = table.get("scope", "transport-rule")
    scope, scope_domains = "transport-rule", []
    if scope_value in ("transport-rule", "all-accepted-domains"):
        scope = scope_value
    elif isinstance(scope_value, str) and scope_value.startswith("domains:"):
        scope = "domains"
        scope_domains = [d.strip().lower() for d in scope_value[8:].split(",") if d.strip()]
        if not scope_domains or any(not _DOMAIN.match(d) for d in scope_domains):
            problems.messages.append(f"connector.scope: {scope_value!r}: expected \"domains:a.org,b.org\"")
    else:
        problems.messages.append(f"connector.scope: {scope_value!r} is not allowed (allowed: transport-rule, "
                                 "\"domains:a.org,b.org\", all-accepted-domains)")
    recipients = problems.take(_list, table, "validation_recipients", "connector", _EMAIL.match, "an email address",
                               default=[])
    rule = None
    if scope == "transport-rule":
        rule_table = config.get("rule")
        if not isinstance(rule_table, dict):
            problems.messages.append("scope = \"transport-rule\" needs a [rule] table")
        else:
            rule = parse_rule(rule_table, problems)
    elif "rule" in config:
        problems.messages.append(f"[rule] is used only with scope = \"transport-rule\", not {scope_value!r}")
    if problems.messages:
        count = len(problems.messages)
        raise ConfigError(f"{source}: {count} problem{'s' if count != 1 else ''}: " + "; ".join(problems.messages))
    return Connector(name, smart_hosts, tls, scope, scope_domains, recipients, rule)


def parse_rule(table: dict[str, Any], problems: _Problems | None = None) -> Rule | None:
    own = problems is None
    problems = problems or _Problems()
    problems.take(check_keys, table, "[rule]", RULE_KEYS)
    domains = problems.take(_list, table, "recipient_domains", "rule", _DOMAIN.match, "a domain", default=[])
    if not domains and not any(m.startswith("rule.recipient_domains") for m in problems.messages):
        problems.messages.append("rule.recipient_domains: at least one domain")
    priority = table.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
        problems.messages.append(f"rule.priority: must be a whole number from 0 up, not {priority!r}")
    stop = table.get("stop_processing", True)
    if not isinstance(stop, bool):
        problems.messages.append(f"rule.stop_processing: must be true or false, not {stop!r}")
    rule = Rule(
        name=problems.take(_str, table, "name", "rule", default=""),
        recipient_domains=[d.lower() for d in domains],
        except_sender_domains=[d.lower() for d in problems.take(_list, table, "except_sender_domains", "rule",
                                                                  _DOMAIN.match, "a domain", default=[])],
        severity=problems.take(_choice, table, "severity", "rule", SEVERITIES, "High", default="High"),
        stop_processing=stop if isinstance(stop, bool) else True,
        priority=priority if isinstance(priority, int) else 0,
        mode=problems.take(_choice, table, "mode", "rule", MODES, "Enforce", default="Enforce"),
    )
    if own and problems.messages:
        raise ConfigError("; ".join(problems.messages))
    return rule
