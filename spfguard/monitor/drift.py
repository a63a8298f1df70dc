"""Drift: compare a domain's snapshot with the previous complete one. Pure functions over :class:`Snapshot`.

Two kinds of events:

* changes, reported once when they happen: ``record-changed`` (which name, old → new) and ``ranges-changed``
  (which include, which CIDRs appeared or vanished);
* problems, which are states: ``lookups-over-limit``, ``lookups-near-limit``, ``void-over-limit``,
  ``coverage-lost``, ``spf-error`` (any other error finding: a syntax error, +all, a missing include target…),
  ``ranges-changed`` for an include the domain has flattened (its copy is stale: the include authorises ranges
  the published record does not — open until the record authorises them again, by a re-flatten or by hand)
  ``check-failing`` (temporary DNS failures on two runs in a row — a single timeout is not an alert), and from
  the DMARC reports of the window: ``unauthorised-sender`` (a platform sends SPF-aligned mail the record does not
  authorise) and ``sender-stopped`` (an included platform silent for the whole window, info). The caller
  notifies when a problem starts, optionally reminds, and sends ``resolved`` when it clears.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field

from spfguard.dns.base import within
from spfguard.ipset import IPSet
from spfguard.monitor.snapshot import Snapshot
from spfguard.vendors.catalogue import load_catalogue

# error findings that have an event of their own (the rest are reported as spf-error)
COVERED_ELSEWHERE = ("too-many-lookups", "too-many-void-lookups", "temporary-failure", "missing-vendor")


@dataclass
class Event:
    domain: str
    code: str
    key: str
    message: str
    data: dict = field(default_factory=dict)
    tenant: str | None = None
    id: int | None = None  # set when the store queues it (receivers may use it to recognise a repeat)
    at: float | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "at"}


def _owner(name: str) -> str:
    catalogue = load_catalogue()
    for platform in catalogue.platforms.values():
        if name.lower() in platform.includes:
            return platform.owner or platform.display
    return name


def changes(current: Snapshot, previous: Snapshot | None) -> list[Event]:
    if previous is None or current.incomplete:
        return []
    domain = current.domain
    events = []
    old_records, new_records = previous.records, current.records
    own = {n for n in set(old_records) | set(new_records) if within(n, domain)}
    # a name that only appears or vanishes is covered by the change of the record that includes it
    for name in sorted((set(old_records) & set(new_records)) | own):
        old, new = old_records.get(name), new_records.get(name)
        if old != new:
            events.append(Event(domain, "record-changed", name, f"{name}: {old or '(absent)'} → {new or '(absent)'}",
                                {"name": name, "old": old, "new": new}))
    old_ranges, new_ranges = previous.include_ranges, current.include_ranges
    for name in sorted(set(old_ranges) & set(new_ranges)):
        added = sorted(set(new_ranges[name]) - set(old_ranges[name]))
        removed = sorted(set(old_ranges[name]) - set(new_ranges[name]))
        if name in current.flattened and _missing(current, name):
            continue  # a stale flattened copy is a problem of its own, open until it is repaired
        if added or removed:
            parts = []
            if added:
                parts.append(f"added {len(added)} range{'s' if len(added) != 1 else ''} ({', '.join(added[:5])})")
            if removed:
                parts.append(f"removed {len(removed)} ({', '.join(removed[:5])})")
            events.append(Event(domain, "ranges-changed", name, f"{_owner(name)} ({name}) " + " and ".join(parts),
                                {"include": name, "added": added, "removed": removed}))
    return events


def problems(current: Snapshot, previous: Snapshot | None, warn_lookups: int) -> dict[tuple[str, str], str]:
    """The problem states of ``current``: {(code, key): message}. For an incomplete snapshot only
    ``check-failing`` can be decided (and only when the previous run failed too)."""
    domain = current.domain
    if current.incomplete:
        if previous is not None and previous.incomplete:
            reason = "; ".join(current.errors[:2]) or "DNS lookups failed"
            return {("check-failing", ""): f"{domain} could not be checked on two runs in a row: {reason}"}
        return {}
    found: dict[tuple[str, str], str] = {}
    limit = current.limits["lookups"]
    lookups = current.lookups
    if lookups > limit:
        found[("lookups-over-limit", "")] = f"{domain} needs {lookups} DNS lookups (limit {limit}): receivers " \
                                            "return permerror and mail fails SPF"
    elif lookups >= warn_lookups:
        found[("lookups-near-limit", "")] = f"{domain} needs {lookups} of {limit} DNS lookups: one more include " \
                                            "breaks it"
    for family, voids in (("IPv4", current.void_lookups), ("IPv6", current.void_lookups_ipv6)):
        if voids > current.limits["voids"]:
            found[("void-over-limit", family)] = f"{domain}: {voids} void lookups for {family} senders " \
                                                 f"(limit {current.limits['voids']})"
    for platform, cov in current.coverage.items():
        if cov["status"] != "full":
            missing = ", ".join(cov["missing"][:8]) + (" …" if len(cov["missing"]) > 8 else "")
            found[("coverage-lost", platform)] = f"{domain} no longer fully authorises {platform} " \
                                                 f"({cov['status']}; missing {missing})"
    for code in sorted(current.codes("error") - set(COVERED_ELSEWHERE)):
        found[("spf-error", code)] = f"{domain}: SPF error {code} (see `spfguard check {domain}`)"
    found.update(_sender_problems(current))
    for include in sorted(current.flattened):
        stale = _missing(current, include)
        if stale:
            shown = ", ".join(stale[:5]) + (" …" if len(stale) > 5 else "")
            found[("ranges-changed", include)] = (
                f"{_owner(include)} ({include}) added {len(stale)} range{'s' if len(stale) != 1 else ''} "
                f"({shown}) that {domain}'s flattened copy does not authorise: re-flatten it (`spfguard fix "
                f"{domain}`, or `monitor --auto-fix`)")
    return found


def _sender_problems(current: Snapshot) -> dict[tuple[str, str], str]:
    """From the senders summary: platforms whose SPF-aligned mail fails SPF today, and included platforms silent
    for a whole window of reports (only once the reports cover that long)."""
    summary = current.senders
    if not summary:
        return {}
    domain, days = current.domain, summary.get("days", 30)
    found = {}
    covered = _covers(summary, days)
    for name, use in sorted(summary.get("platforms", {}).items()):
        status = use.get("status")
        if status in ("unauthorised", "dkim-only"):
            how = "and DMARC failed for it" if status == "unauthorised" else "(DMARC passed by DKIM)"
            proof = f"; evidence: {use['evidence']}" if use.get("evidence") else "; one reporter, no DKIM: check it"
            found[("unauthorised-sender", name)] = (
                f"{domain}: {use.get('display', name)} sent {use.get('messages', 0)} message(s) in the last {days} "
                f"days that SPF does not pass {how}: add include:{use.get('include')}{proof} (`spfguard senders "
                f"{domain} --since {days}d`)")
        elif status == "unused" and covered:
            found[("sender-stopped", name)] = (
                f"{domain}: {use.get('display', name)} is included but sent nothing in {days} days of reports "
                f"(info): a candidate to remove (include:{use.get('include')}; never removed automatically)")
    return found


def _covers(summary: dict, days: int) -> bool:
    """The stored reports reach back the whole window (a mailbox read since yesterday proves no silence)."""
    import datetime

    first = summary.get("first")
    last = summary.get("last")
    try:
        start = datetime.datetime.strptime(str(first)[:10], "%Y-%m-%d")
        end = datetime.datetime.strptime(str(last)[:10], "%Y-%m-%d")
    except ValueError:
        return False
    return (end - start).days + 1 >= days


def _missing(snapshot: Snapshot, include: str) -> list[str]:
    """Ranges a flattened include authorises now that the published record does not (its copy is stale)."""
    now = snapshot.include_ranges.get(include)
    if now is None or include not in snapshot.flattened:
        return []  # the include could not be read this run: nothing to say
    authorised = {v: IPSet.of(v, [c for c in snapshot.ranges.get("pass", [])]) for v in (4, 6)}
    out = []
    for cidr in now:
        network = ipaddress.ip_network(cidr)
        if not IPSet.of(network.version, [network]).issubset(authorised[network.version]):
            out.append(cidr)
    return out
