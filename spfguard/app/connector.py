"""``connector``: the Exchange Online outbound connector + transport rule — its plan, the validation Exchange
runs (done locally), and its consistency with the SPF and MX of the domains it routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from spfguard.app.dns import DnsOptions, open_dns
from spfguard.connector.consistency import DomainCheck, allowlist_targets, check_domain
from spfguard.connector.model import Connector, SmartHost, Tls, parse_connector
from spfguard.connector.smtpcheck import Check
from spfguard.errors import UserError
from spfguard.findings import Finding
from spfguard.tables import load_toml


def load_connector(path: Path | None) -> Connector:
    if path is None:
        raise UserError("--config FILE is required")
    return parse_connector(load_toml(path, "connector file"), str(path))


@dataclass
class Validation:
    tls: Tls
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict:
        return {"version": 1, "tls": str(self.tls), "checks": [c.to_json() for c in self.checks]}


def validate(hosts: list[SmartHost], recipients: list[str], tls: Tls, dns: DnsOptions, *, smtp_timeout: float,
             helo: str, ca_file: str | None, send_test: bool) -> Validation:
    from spfguard.connector.smtpcheck import Options
    from spfguard.connector.smtpcheck import validate as run_validation

    options = Options(tls, smtp_timeout, helo, ca_file, "", send_test, system_resolver=not dns.offline)
    return Validation(tls, asyncio.run(run_validation(hosts, recipients, options, open_dns(dns))))


@dataclass
class ConnectorCheck:
    connector: Connector
    domains: list[DomainCheck]
    allowlists: dict[str, list[str]]  # console -> the ranges to paste
    consoles: dict[str, str] = field(default_factory=dict)  # console -> where it is pasted
    note: str | None = None  # the age of the endpoint data

    @property
    def findings(self) -> list[Finding]:
        return [f for d in self.domains for f in d.findings]

    def to_json(self) -> dict:
        return {"version": 1, "connector": self.connector.name, "domains": [
            {"domain": r.domain, "exchange_online_in_spf": r.spf, "missing": r.missing, "mx": r.mx,
             "mx_platforms": r.mx_platforms, "findings": [f.to_json() for f in r.findings]} for r in self.domains],
            "allowlists": self.allowlists}


def check(connector: Connector, dns: DnsOptions) -> ConnectorCheck:
    """For the rule's domains: is Exchange Online authorised in SPF, do the smart hosts fit the MX, and the
    allow-lists the receiving platforms need."""
    from spfguard.audit import audit
    from spfguard.vendors import allowlist as exports
    from spfguard.vendors.catalogue import load_catalogue
    from spfguard.vendors.msendpoints import EndpointsClient

    catalogue = load_catalogue()
    exchange = catalogue.with_role("exchange-online")
    client = open_dns(dns)

    async def run():
        return await asyncio.gather(*(audit(d, client, expect=[exchange.name]) for d in connector.domains))

    results = [check_domain(connector, report) for report in asyncio.run(run())]
    data = EndpointsClient().load(exchange.endpoints or "Worldwide", offline=dns.offline)
    networks = data.exchange_smtp_networks()
    targets = allowlist_targets(connector)
    return ConnectorCheck(connector, results, {t: [str(n) for n in exports.for_target(t, networks)] for t in targets},
                          {t: catalogue.allowlists[t].display for t in targets}, data.age_note())
