"""``connector check``: is the connector consistent with the SPF and MX of the domains it routes?

* Exchange Online must be authorised by each domain's SPF (mail that Exchange relays keeps the sender's
  domain): the coverage of ``microsoft365`` (:mod:`spfguard.vendors.coverage`).
* The smart hosts should lead to the platform that receives the domain's mail (its MX): delivering straight to
  Google when the MX is Mimecast skips the inbound gateway; a smart host that is Exchange Online itself is a
  loop.
* The allow-lists the receiving platforms need so that Exchange Online's servers are let through.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spfguard.audit import Report
from spfguard.connector.model import Connector
from spfguard.findings import Finding
from spfguard.vendors.catalogue import load_catalogue


@dataclass
class DomainCheck:
    domain: str
    spf: str  # coverage status of microsoft365: full | partial | none | unknown | no-record
    missing: list[str]
    mx: list[str]
    mx_platforms: list[str]
    findings: list[Finding] = field(default_factory=list)


def allowlist_targets(connector: Connector) -> list[str]:
    catalogue = load_catalogue()
    targets = []
    for host in connector.smart_hosts:
        name = catalogue.platform_of_host(host.host)
        target = catalogue.platforms[name].allowlist if name else None
        if target and target not in targets:
            targets.append(target)
    return targets


def check_domain(connector: Connector, report: Report) -> DomainCheck:
    catalogue = load_catalogue()
    exchange = catalogue.with_role("exchange-online")
    domain = report.domain
    cov = report.coverage.get(exchange.name)
    spf = "no-record" if report.record is None else cov.status if cov else "unknown"
    result = DomainCheck(domain, spf, cov.missing if cov else [], report.mx or [], [])
    result.mx_platforms = list(dict.fromkeys(p for p in map(catalogue.platform_of_host, result.mx) if p))
    hosts = {str(h): catalogue.platform_of_host(h.host) for h in connector.smart_hosts}
    smart_platforms = {p for p in hosts.values() if p}
    add = result.findings.append
    if spf in ("none", "partial", "no-record"):
        add(Finding("missing-vendor" if spf != "partial" else "partial-vendor",
                    "error" if spf != "partial" else "warning",
                    f"{domain}: Exchange Online is {'not' if spf != 'partial' else 'only partly'} authorised by SPF: "
                    f"mail it relays for this domain fails SPF at the receiver; add include:{exchange.include}",
                    domain))
    if exchange.name in smart_platforms:
        add(Finding("connector-loop", "error", "a smart host is Exchange Online itself: mail would loop back",
                    "connector"))
    if result.mx_platforms and smart_platforms and not smart_platforms & set(result.mx_platforms):
        add(Finding("connector-bypasses-mx", "warning", f"{domain} receives mail at "
                    f"{', '.join(result.mx_platforms)} (MX) but the connector delivers to "
                    f"{', '.join(sorted(smart_platforms))}: mail skips the inbound gateway's filtering", domain))
    elif result.mx_platforms and smart_platforms - set(result.mx_platforms):
        others = sorted(smart_platforms - set(result.mx_platforms))
        add(Finding("connector-bypasses-mx", "info", f"{domain}: the smart hosts also reach {', '.join(others)}, "
                    f"which is not in the domain's MX ({', '.join(result.mx_platforms)}); make sure that platform "
                    "accepts mail for the domain and allow-lists Exchange Online", domain))
    for host, platform in hosts.items():
        if platform is None:
            add(Finding("unknown-smart-host", "info", f"smart host {host} belongs to no platform in the catalogue",
                        "connector"))
    return result
