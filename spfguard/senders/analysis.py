"""Who sends as the domain (pure): each row of the reports placed by what receivers checked.

A receiver checks SPF for the MAIL FROM (envelope) domain, not the From domain, so every source is grouped by
that envelope domain:

* **SPF-aligned** — the envelope is the domain or a name below it (that name's record is the one evaluated): the
  source is attributed to a platform of the catalogue — by its published ranges, else by the reverse-DNS name of
  the source — and judged against the record as today's ``check_host()`` sees it. Platforms are ``authorised``
  (every source passes today), ``unauthorised`` (some mail fails SPF today and DMARC failed too: the include to
  add is named), ``dkim-only`` (mail fails SPF today but DMARC passed by DKIM: the include would make SPF pass
  too) or ``unused`` (included, silent in the period: a candidate to remove, never removed automatically).
  Sources no platform claims are ``unknown``: authorised by the record, *forwarded* (SPF fails, DKIM passes —
  a forwarder keeps the envelope), or possible spoofing (SPF and DKIM fail).
* **Not SPF-aligned** — another envelope domain (an ESP's bounce domain, a forwarder's): SPF was about that
  domain, so DKIM decides DMARC; such mail is listed with its DKIM and DMARC results and never makes an "add
  include" or "possible spoofing" conclusion.
* **Another From domain** — rows whose ``header_from`` is not the domain (reports mix them): listed apart.

Every message of the headline is in exactly one of those tables; what receivers did (``disposition`` and override
reasons) is counted per source and per platform.
"""

from __future__ import annotations

import bisect
import heapq
import ipaddress
import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from spfguard.dmarc import organisational_domain
from spfguard.dns.base import within
from spfguard.senders.reports import AggregateReport, Row
from spfguard.vendors.catalogue import Catalogue, Network
from spfguard.vendors.coverage import SenderSet

FAILS = ("fail", "softfail")  # SPF results that leave DMARC to DKIM


def normalise_ip(ip: str) -> str:
    """An IPv4-mapped IPv6 source (``::ffff:209.85.128.5``) is the IPv4 client it stands for (the report reader
    does this already; rows made elsewhere may not have)."""
    if ":" not in ip:
        return ip
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped) if mapped is not None else str(address)


def address_int(ip: str) -> tuple[int, int]:
    """(family, the address as an integer), without building an ipaddress object (a hundred thousand sources)."""
    if ":" in ip:
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big")
    return 4, int.from_bytes(socket.inet_aton(ip), "big")


@dataclass(slots=True)
class Source:
    """Messages from one range of a platform (or one IP no platform claims), for one envelope domain. What
    receivers saw and did is one tally keyed (kind, value) — a hundred thousand sources hold one small counter
    each, not five."""

    source: str
    messages: int = 0
    tally: Counter = field(default_factory=Counter)  # ("spf"|"dkim"|"did"|"reason"|"today"|"day", value) -> n
    dmarc_pass: int = 0
    dkim_aligned: int = 0  # messages with an aligned DKIM pass: the sender signs as the domain
    forwarded: int = 0  # SPF failed, DKIM passed (or the receiver said "forwarded")
    ips: set[str] = field(default_factory=set)
    ptr: str | None = None
    ptr_org: str | None = None  # the organisational domain of the PTR name (who runs the host)
    via: str | None = None  # the term of the domain's record that passes it today (for sources no platform claims)
    asn: int | None = None
    as_name: str | None = None
    envelope: str = ""  # the domain SPF was checked for
    platform: str | None = None  # the platform holding it (for mail not SPF-aligned, or from another domain)
    reporters: set[str] = field(default_factory=set)
    failing: int = 0  # messages whose IP fails check_host() today
    failing_dmarc: int = 0  # of those, the messages that failed DMARC too

    def _view(self, kind: str) -> Counter:
        return Counter({value: n for (k, value), n in self.tally.items() if k == kind})

    @property
    def spf_seen(self) -> Counter:
        """What receivers saw, per message."""
        return self._view("spf")

    @property
    def dkim_seen(self) -> Counter:
        return self._view("dkim")

    @property
    def dispositions(self) -> Counter:
        """What receivers did: none, quarantine, reject."""
        return self._view("did")

    @property
    def reasons(self) -> Counter:
        """Override reasons: forwarded, mailing_list …"""
        return self._view("reason")

    @property
    def check_host(self) -> Counter:
        """spfguard's result today, per distinct IP."""
        return self._view("today")

    @property
    def result(self) -> str | dict:
        """check_host() today: one result, or the count of IPs per result when they differ."""
        today = self.check_host
        return next(iter(today)) if len(today) == 1 else dict(today)

    @property
    def passes(self) -> bool:
        return set(self.check_host) == {"pass"}

    @property
    def spoofing(self) -> bool:
        """Mail the record does not authorise that failed DMARC, not forwarded: possibly someone else's."""
        return not self.passes and not self.forwarded and bool(self.failing_dmarc)

    @property
    def label(self) -> str:
        """The range or address — or, for mail no platform claims under another envelope, how many addresses."""
        return self.source or f"{len(self.ips)} address{'es' if len(self.ips) != 1 else ''}"

    def to_json(self) -> dict:
        out = {"source": self.label, "messages": self.messages, "spf_seen": dict(self.spf_seen),
               "dkim_seen": dict(self.dkim_seen), "dmarc_pass": self.dmarc_pass, "check_host": self.result,
               "envelope": self.envelope, "dispositions": dict(self.dispositions)}
        if reasons := self.reasons:
            out["override_reasons"] = dict(reasons)
        if self.forwarded:
            out["forwarded"] = self.forwarded
        return out


@dataclass
class PlatformUse:
    platform: str
    display: str
    status: str  # authorised | unauthorised | dkim-only | unused
    include: str
    sources: list[Source] = field(default_factory=list)
    by_ptr: bool = False  # attributed by reverse DNS, not by its published ranges

    @property
    def messages(self) -> int:
        return sum(s.messages for s in self.sources)

    @property
    def dispositions(self) -> Counter:
        return sum((s.dispositions for s in self.sources), Counter())

    @property
    def reporters(self) -> set[str]:
        return set().union(*(s.reporters for s in self.sources)) if self.sources else set()

    @property
    def evidence(self) -> str | None:
        """Why its mail can be believed (forged reports are easy): DKIM-aligned mail from it, or two reporters."""
        if any(s.dkim_aligned for s in self.sources):
            return "DKIM-aligned mail from it"
        if len(self.reporters) >= 2:
            return f"seen by {len(self.reporters)} reporters"
        return None

    def to_json(self) -> dict:
        return {"platform": self.platform, "display": self.display, "status": self.status,
                "messages": self.messages, "include": self.include, "attributed_by": "ptr" if self.by_ptr else
                "ranges", "dispositions": dict(self.dispositions), "evidence": self.evidence,
                "sources": [s.to_json() for s in self.sources]}


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
    other_envelopes: list[Source] = field(default_factory=list)  # not SPF-aligned: DKIM decides
    other_from: list[Source] = field(default_factory=list)  # rows about another From domain
    skipped_rows: list[tuple[str, str]] = field(default_factory=list)
    ptr_limited: int = 0  # unknown sources not looked up in reverse DNS (only the busiest are)

    @property
    def messages(self) -> int:
        return sum(r.count for report in self.reports for r in report.rows)

    @property
    def period(self) -> dict:
        return {"begin": min((r.begin for r in self.reports), default=None),
                "end": max((r.end for r in self.reports), default=None), "reports": len(self.reports),
                "reporters": sorted({r.org for r in self.reports}), "messages": self.messages}

    @property
    def accounted(self) -> int:
        """Messages in the tables — equal to :attr:`messages` (nothing disappears)."""
        return sum(p.messages for p in self.platforms) + sum(s.messages for s in
                                                             [*self.unknown, *self.other_envelopes, *self.other_from])

    @property
    def dispositions(self) -> Counter:
        """What receivers did with all the messages: none, quarantine, reject."""
        out: Counter = Counter()
        for report in self.reports:
            for row in report.rows:
                out[row.disposition] += row.count
        return out

    def with_status(self, *statuses: str) -> list[PlatformUse]:
        return [p for p in self.platforms if p.status in statuses]

    @property
    def spoofing(self) -> list[Source]:
        return [s for s in self.unknown if s.spoofing]

    def suggested_expect(self) -> list[str]:
        """The platforms that send and can be believed: what ``--expect`` should say. A platform the record does
        not authorise yet is proposed only on evidence (DKIM-aligned mail, or two reporters) — one forged report
        is not enough to authorise anyone."""
        return sorted(p.platform for p in self.platforms if p.status == "authorised"
                      or (p.status in ("unauthorised", "dkim-only") and p.evidence))

    def unproven(self) -> list[PlatformUse]:
        """Platforms whose mail fails SPF but that are not proposed: no evidence beyond one reporter's word."""
        return [p for p in self.with_status("unauthorised", "dkim-only") if not p.evidence]

    def summary(self, days: int) -> dict:
        """What the monitor keeps of it in a snapshot: per platform the messages, status and what receivers did,
        the messages per day (by report period), and the sources no platform claims — small, whatever the
        reports' size."""
        daily: dict[str, dict[str, int]] = {}
        for use in self.platforms:
            for source in use.sources:
                for day, n in source.tally.items():
                    if day[0] == "day":
                        daily.setdefault(day[1], {})
                        daily[day[1]][use.platform] = daily[day[1]].get(use.platform, 0) + n
        for report in self.reports:
            for row in report.rows:
                if not row.header_from or within(row.header_from, self.domain):
                    totals = daily.setdefault(report.begin[:10], {})
                    totals["*"] = totals.get("*", 0) + row.count  # every message about the domain that day
        return {"days": days, "reports": len(self.reports), "messages": self.messages,
                "first": self.period["begin"], "last": self.period["end"],
                "platforms": {p.platform: {"display": p.display, "status": p.status, "include": p.include,
                                           "messages": p.messages, "dispositions": dict(p.dispositions),
                                           "evidence": p.evidence} for p in self.platforms},
                "spoofing": sum(s.messages for s in self.spoofing), "dispositions": dict(self.dispositions),
                "daily": dict(sorted(daily.items()))}

    def to_json(self) -> dict:
        def unknown_json(s: Source) -> dict:
            return {**s.to_json(), "ptr": s.ptr, "ptr_organisation": s.ptr_org,
                    "authorised_by": s.via if s.passes else None, "asn": s.asn, "as_name": s.as_name}

        return {"version": 2, "domain": self.domain, "record": self.record,
                "period": {**self.period, "duplicates": self.duplicates},
                "platforms": [p.to_json() for p in self.platforms],
                "unknown": [unknown_json(s) for s in self.unknown],
                "not_spf_aligned": [{**s.to_json(), "platform": s.platform} for s in self.other_envelopes],
                "other_from_domains": [{**s.to_json(), "header_from": s.envelope} for s in self.other_from],
                "dispositions": dict(self.dispositions),
                "skipped": [{"file": f, "reason": why} for f, why in self.skipped],
                "skipped_rows": [{"where": f, "reason": why} for f, why in self.skipped_rows],
                "unresolved_platforms": [{"platform": p, "error": why} for p, why in self.unresolved]}


class Attributor:
    """IP -> (platform, the published range holding it). When several platforms publish an address, the one the
    record includes wins, then the one with the smallest sender set (a region before "all regions"). The ranges of
    every platform are laid out once as disjoint segments, each with its winner, so an address is found by
    bisection (a hundred thousand sources cost a hundred thousand look-ups, not a scan each)."""

    def __init__(self, senders: Iterable[SenderSet], included: set[str]):
        def rank(s: SenderSet):
            size = sum(hi - lo + 1 for ip_set in (s.v4, s.v6) for lo, hi in ip_set.ranges)
            return (s.platform.name not in included, size)

        ordered = sorted((s for s in senders if s.error is None), key=rank)
        self._segments: dict[int, tuple[list[int], list[tuple[int, tuple[str, Network] | None]]]] = {}
        for version in (4, 6):
            intervals = [(int(n.network_address), int(n.broadcast_address), order, (s.platform.name, n))
                         for order, s in enumerate(ordered) for n in s.family(version).cidrs()]
            self._segments[version] = _segments(intervals)
        self._found: dict[str, tuple[str, Network] | None] = {}  # an IP recurs in many rows and reports

    def __call__(self, ip: str) -> tuple[str, Network] | None:
        if ip not in self._found:
            version, value = address_int(normalise_ip(ip))
            starts, owners = self._segments[version]
            k = bisect.bisect_right(starts, value) - 1
            found = None
            if k >= 0:
                end, owner = owners[k]
                found = owner if value <= end else None
            self._found[ip] = found
        return self._found[ip]


def _segments(intervals: list[tuple[int, int, int, tuple[str, Network]]]):
    """Disjoint segments (start -> (end, the best-ranked owner)) of overlapping ranked intervals: a sweep with a
    heap of the intervals open at each boundary."""
    bounds = sorted({lo for lo, _, _, _ in intervals} | {hi + 1 for _, hi, _, _ in intervals})
    by_start = sorted(intervals)
    starts: list[int] = []
    owners: list[tuple[int, tuple[str, Network] | None]] = []
    heap: list[tuple[int, int, int, tuple[str, Network]]] = []
    i = 0
    for b, boundary in enumerate(bounds[:-1]):
        while i < len(by_start) and by_start[i][0] <= boundary:
            lo, hi, order, owner = by_start[i]
            heapq.heappush(heap, (order, hi, lo, owner))
            i += 1
        while heap and heap[0][1] < boundary:
            heapq.heappop(heap)
        if heap:
            starts.append(boundary)
            owners.append((bounds[b + 1] - 1, heap[0][3]))
    return starts, owners


def included_platforms(node_names: set[str], catalogue: Catalogue) -> list[str]:
    """The platforms whose include (or an alias of it) the record reaches — one per include (the first)."""
    seen, out = set(), []
    for platform in catalogue.platforms.values():
        if platform.include in seen:
            continue
        if any(catalogue.matches(platform, name) for name in node_names):
            seen.add(platform.include)
            out.append(platform.name)
    return out


def classify(domain: str, record: str | None, reports: list[AggregateReport], catalogue: Catalogue,
             attribute: Attributor, results: Mapping, ptrs: Mapping[str, str | None], included: list[str]) -> Senders:
    """``results``: per envelope domain (the domain, or a name below it), check_host() today for each source IP
    with the term of the record that decided it; ``ptrs``: the reverse-DNS name of the IPs no published range
    claims."""
    platforms: dict[str, PlatformUse] = {}
    ranges: dict[tuple[str, str, str], Source] = {}  # (platform, range, envelope) -> its source
    unknown: dict[tuple[str, str], Source] = {}
    other_envelopes: dict[tuple[str, str], Source] = {}
    other_from: dict[tuple[str, str], Source] = {}
    for report in reports:
        for row in report.rows:
            ip = normalise_ip(row.ip)
            envelope = row.envelope or row.header_from or domain
            found, by_ptr, ptr = attribute(ip), False, ptrs.get(ip)
            if found is None and ptr and (name := catalogue.platform_of_ptr(ptr)):
                found, by_ptr = (name, ipaddress.ip_network(ip)), True
            if row.header_from and not within(row.header_from, domain):  # a report's row about another domain
                source = other_from.setdefault((row.header_from, ip), Source(ip, envelope=row.header_from))
                source.platform = found[0] if found else None
                _count(source, row, ip, report.org, None, report.begin[:10])
                continue
            if not within(envelope, domain):  # SPF was about someone else's domain: DKIM decides
                key = (envelope, str(found[1]) if found else "")  # by platform range, else all its addresses
                source = other_envelopes.setdefault(key, Source(key[1], envelope=envelope, asn=row.asn,
                                                                as_name=row.as_name))
                source.platform = found[0] if found else None
                _count(source, row, ip, report.org, None, report.begin[:10])
                continue
            result, via = results.get(envelope, {}).get(ip) or ("none", None)
            if found is None:
                source = unknown.setdefault((ip, envelope), Source(
                    ip, ptr=ptr, ptr_org=organisational_domain(ptr) if ptr else None, asn=row.asn,
                    as_name=row.as_name, via=via, envelope=envelope))
            else:
                name, network = found
                p = catalogue.platforms[name]
                use = platforms.setdefault(name, PlatformUse(name, p.display, "", p.include, by_ptr=by_ptr))
                held = (name, str(network), envelope)
                if held not in ranges:
                    ranges[held] = Source(held[1], envelope=envelope)
                    use.sources.append(ranges[held])
                source = ranges[held]
            _count(source, row, ip, report.org, result, report.begin[:10])
    for use in platforms.values():
        if all(s.passes for s in use.sources):
            use.status = "authorised"
        else:
            use.status = "unauthorised" if any(s.failing_dmarc for s in use.sources) else "dkim-only"
        use.sources.sort(key=lambda s: -s.messages)
    for name in included:
        if name not in platforms:
            p = catalogue.platforms[name]
            platforms[name] = PlatformUse(name, p.display, "unused", p.include)
    order = {"unauthorised": 0, "dkim-only": 1, "authorised": 2, "unused": 3}
    ordered = sorted(platforms.values(), key=lambda u: (order[u.status], -u.messages, u.platform))

    def busiest(sources: dict) -> list[Source]:
        return sorted(sources.values(), key=lambda s: (-s.messages, s.source))

    return Senders(domain, record, reports, ordered, busiest(unknown), other_envelopes=busiest(other_envelopes),
                   other_from=busiest(other_from))


def _count(source: Source, row: Row, ip: str, reporter: str, result: str | None, day: str = "") -> None:
    source.messages += row.count
    tally = source.tally
    tally["spf", row.spf] += row.count
    tally["dkim", row.dkim] += row.count
    tally["did", row.disposition] += row.count
    tally["day", day] += row.count
    source.dmarc_pass += row.count if row.dmarc else 0
    source.dkim_aligned += row.count if row.dkim == "pass" and (row.dkim_aligned or row.dmarc) else 0
    if (row.spf in FAILS and row.dkim == "pass") or "forwarded" in row.reasons:
        source.forwarded += row.count
    for reason in row.reasons:
        tally["reason", reason] += row.count
    source.reporters.add(reporter)
    if result is not None:
        if result != "pass":
            source.failing += row.count
            source.failing_dmarc += 0 if row.dmarc else row.count
        if ip not in source.ips:  # check_host() counts distinct IPs, not messages
            tally["today", result] += 1
    source.ips.add(ip)
