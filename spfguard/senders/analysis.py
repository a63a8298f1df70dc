"""Who sends as the domain (pure): each source IP of the reports attributed to a platform of the catalogue —
by the platform's published ranges, else by the reverse-DNS name of the source — and the platforms classified:

* ``authorised``: it sends, and ``check_host()`` passes every source it sends from today;
* ``unauthorised``: it sends from at least one source the record does not pass — the include to add is named;
* ``unused``: the record includes it, and it sent nothing in the period (a candidate to remove, never removed
  automatically: a platform may send rarely, or report to nobody);

and the sources no platform claims: ``unknown`` (a sender of its own the record authorises, or spoofing).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from spfguard.dmarc import organisational_domain
from spfguard.dns.base import within
from spfguard.senders.reports import AggregateReport
from spfguard.vendors.catalogue import Catalogue, Network
from spfguard.vendors.coverage import SenderSet


@dataclass
class Source:
    """Messages from one range of a platform (or one IP no platform claims)."""

    source: str
    messages: int = 0
    spf_seen: Counter = field(default_factory=Counter)  # what receivers saw, per message
    dkim_seen: Counter = field(default_factory=Counter)
    dmarc_pass: int = 0
    check_host: Counter = field(default_factory=Counter)  # spfguard's result today, per distinct IP
    ips: set[str] = field(default_factory=set)
    ptr: str | None = None
    ptr_org: str | None = None  # the organisational domain of the PTR name (who runs the host)
    via: str | None = None  # the term of the domain's record that passes it today (for sources no platform claims)
    asn: int | None = None
    as_name: str | None = None

    @property
    def result(self) -> str | dict:
        """check_host() today: one result, or the count of IPs per result when they differ."""
        return next(iter(self.check_host)) if len(self.check_host) == 1 else dict(self.check_host)

    @property
    def passes(self) -> bool:
        return set(self.check_host) == {"pass"}

    def to_json(self) -> dict:
        return {"source": self.source, "messages": self.messages, "spf_seen": dict(self.spf_seen),
                "dkim_seen": dict(self.dkim_seen), "dmarc_pass": self.dmarc_pass, "check_host": self.result}


@dataclass
class PlatformUse:
    platform: str
    display: str
    status: str  # authorised | unauthorised | unused
    include: str
    sources: list[Source] = field(default_factory=list)
    by_ptr: bool = False  # attributed by reverse DNS, not by its published ranges

    @property
    def messages(self) -> int:
        return sum(s.messages for s in self.sources)

    def to_json(self) -> dict:
        return {"platform": self.platform, "display": self.display, "status": self.status,
                "messages": self.messages, "include": self.include, "attributed_by": "ptr" if self.by_ptr else
                "ranges", "sources": [s.to_json() for s in self.sources]}


@dataclass
class Senders:
    domain: str
    record: str | None
    reports: list[AggregateReport]
    platforms: list[PlatformUse]
    unknown: list[Source]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # platforms whose chain could not be resolved

    @property
    def messages(self) -> int:
        return sum(r.count for report in self.reports for r in report.rows)

    @property
    def period(self) -> dict:
        return {"begin": min((r.begin for r in self.reports), default=None),
                "end": max((r.end for r in self.reports), default=None), "reports": len(self.reports),
                "reporters": sorted({r.org for r in self.reports}), "messages": self.messages}

    def with_status(self, status: str) -> list[PlatformUse]:
        return [p for p in self.platforms if p.status == status]

    def suggested_expect(self) -> list[str]:
        """The platforms that send: what ``--expect`` should say."""
        return sorted(p.platform for p in self.platforms if p.status in ("authorised", "unauthorised"))

    def to_json(self) -> dict:
        return {"version": 1, "domain": self.domain, "record": self.record, "period": self.period,
                "platforms": [p.to_json() for p in self.platforms],
                "unknown": [{**s.to_json(), "ptr": s.ptr, "ptr_organisation": s.ptr_org,
                             "authorised_by": s.via if s.passes else None,
                             "asn": s.asn, "as_name": s.as_name} for s in self.unknown],
                "skipped": [{"file": f, "reason": why} for f, why in self.skipped],
                "unresolved_platforms": [{"platform": p, "error": why} for p, why in self.unresolved]}


class Attributor:
    """IP -> (platform, the published range holding it). When several platforms publish an address, the one the
    record includes wins, then the one with the smallest sender set (a region before "all regions")."""

    def __init__(self, senders: Iterable[SenderSet], included: set[str]):
        def rank(s: SenderSet):
            size = sum(hi - lo + 1 for ip_set in (s.v4, s.v6) for lo, hi in ip_set.ranges)
            return (s.platform.name not in included, size)

        self._platforms = [(s.platform.name, [n for v in (4, 6) for n in s.family(v).cidrs()])
                           for s in sorted((s for s in senders if s.error is None), key=rank)]
        self._found: dict[str, tuple[str, Network] | None] = {}  # an IP recurs in many rows and reports

    def __call__(self, ip: str) -> tuple[str, Network] | None:
        if ip not in self._found:
            address = ipaddress.ip_address(ip)
            self._found[ip] = next(((name, network) for name, networks in self._platforms for network in networks
                                    if network.version == address.version and address in network), None)
        return self._found[ip]


def included_platforms(node_names: set[str], catalogue: Catalogue) -> list[str]:
    """The platforms whose include (or an alias of it) the record reaches — one per include (the first)."""
    seen, out = set(), []
    for platform in catalogue.platforms.values():
        if platform.include in seen:
            continue
        if any(name in node_names for name in platform.includes):
            seen.add(platform.include)
            out.append(platform.name)
    return out


def classify(domain: str, record: str | None, reports: list[AggregateReport], catalogue: Catalogue,
             attribute: Attributor, results: Mapping[str, tuple[str, str | None]], ptrs: Mapping[str, str | None],
             included: list[str]) -> Senders:
    """``results``: check_host() today per source IP, with the term of the record that decided it; ``ptrs``: the
    reverse-DNS name of the IPs no published range claims."""
    platforms: dict[str, PlatformUse] = {}
    unknown: dict[str, Source] = {}
    for report in reports:
        for row in report.rows:
            if row.header_from and not within(row.header_from, domain):  # a subdomain's mail counts
                continue
            found, by_ptr, ptr = attribute(row.ip), False, ptrs.get(row.ip)
            if found is None and ptr and (name := catalogue.platform_of_ptr(ptr)):
                found, by_ptr = (name, ipaddress.ip_network(row.ip)), True
            result, via = results.get(row.ip, ("none", None))
            if found is None:
                source = unknown.setdefault(row.ip, Source(row.ip, ptr=ptr, ptr_org=organisational_domain(ptr)
                                                           if ptr else None, asn=row.asn, as_name=row.as_name,
                                                           via=via))
            else:
                name, network = found
                p = catalogue.platforms[name]
                use = platforms.setdefault(name, PlatformUse(name, p.display, "", p.include, by_ptr=by_ptr))
                known = next((s for s in use.sources if s.source == str(network)), None)
                if known is None:
                    known = Source(str(network))
                    use.sources.append(known)
                source = known
            _count(source, row, result)
    for use in platforms.values():
        use.status = "authorised" if all(s.passes for s in use.sources) else "unauthorised"
        use.sources.sort(key=lambda s: -s.messages)
    for name in included:
        if name not in platforms:
            p = catalogue.platforms[name]
            platforms[name] = PlatformUse(name, p.display, "unused", p.include)
    order = {"unauthorised": 0, "authorised": 1, "unused": 2}
    ordered = sorted(platforms.values(), key=lambda u: (order[u.status], -u.messages, u.platform))
    return Senders(domain, record, reports, ordered, sorted(unknown.values(), key=lambda s: -s.messages))


def _count(source: Source, row, result: str) -> None:
    source.messages += row.count
    source.spf_seen[row.spf] += row.count
    source.dkim_seen[row.dkim] += row.count
    source.dmarc_pass += row.count if row.dmarc else 0
    if row.ip not in source.ips:  # check_host() counts distinct IPs, not messages
        source.ips.add(row.ip)
        source.check_host[result] += 1
