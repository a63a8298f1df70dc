"""Coverage: is every sender range of each expected platform authorised (pass) by the domain's SPF?

Pure logic over walked trees (:mod:`spfguard.tree`) and their decided address sets (:mod:`spfguard.policy`):
interval arithmetic, exact, in both address families.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum

from spfguard.dns.base import DnsClient, within
from spfguard.findings import Finding
from spfguard.ipset import IPSet, sample_points
from spfguard.policy import Policy, decide
from spfguard.spf.evaluator import check_host_async
from spfguard.tree import Node, walk_tree
from spfguard.vendors.catalogue import Catalogue, Platform, load_catalogue


@dataclass
class SenderSet:
    """A platform's current sender ranges: the pass set of its published SPF chain."""

    platform: Platform
    v4: IPSet
    v6: IPSet
    error: str | None = None  # the chain could not be resolved
    lookups: int = 0  # what publishing the platform's include costs

    def family(self, version: int) -> IPSet:
        return self.v4 if version == 4 else self.v6

    def cidrs(self) -> list[str]:
        return [*self.v4.cidr_texts(), *self.v6.cidr_texts()]


class CoverageStatus(StrEnum):
    """How much of an expected platform's sender set the record authorises."""

    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"
    UNKNOWN = "unknown"  # the record or the platform's chain could not be read completely


@dataclass
class Coverage:
    platform: str
    status: CoverageStatus
    missing: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)
    error: str | None = None
    samples: int = 0  # > 0: measured with check_host() on this many addresses (a record with macros, exists, ptr)

    def to_json(self) -> dict:
        out: dict[str, object] = {"status": self.status, "missing": self.missing, "via": self.via,
               "method": "sampled" if self.samples else "exact"}
        if self.samples:
            out["samples"] = self.samples
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class RangeInfo:
    """One ip4/ip6 term of the domain's own records and what it is."""

    term: str
    where: str
    platforms: list[str]  # expected platforms whose current sender ranges it overlaps
    status: str  # vendor | stale | unrecognized
    owner: str | None = None
    note: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


async def sender_set(platform: Platform, dns: DnsClient) -> SenderSet:
    if platform.kind != "name":  # a pattern or a macro template: no ranges to list ahead of a message
        return SenderSet(platform, IPSet(4), IPSet(6))
    tree = await walk_tree(platform.include, dns)
    problems = [n.error or n.status for n in tree.walk() if n.status != "ok"]
    problems += [t.error for n in tree.walk() for t in n.terms if t.error]
    policy = decide(tree)
    return SenderSet(platform, policy.passes(4), policy.passes(6),
                     f"{platform.include}: {problems[0]}" if problems else None, 1 + tree.total_lookups)


async def sender_sets(names: list[str], dns: DnsClient, catalogue: Catalogue | None = None) -> list[SenderSet]:
    catalogue = catalogue or load_catalogue()
    return list(await asyncio.gather(*(sender_set(catalogue.get(n), dns) for n in names)))


def _root_terms(root: Node):
    """(term text, the addresses it authorises per family) for the root record's ip and include terms."""
    if root.parsed is None:
        return
    infos = {i.term: i for i in root.terms}
    for mech in root.parsed.mechanisms:
        if mech.result != "pass":
            continue
        if mech.network is not None:
            yield mech.render(), {mech.network.version: IPSet.of(mech.network.version, [mech.network])}
        elif mech.kind == "include" and (child := getattr(infos.get(mech.render()), "child", None)) is not None:
            policy = decide(child)
            yield mech.render(), {4: policy.passes(4), 6: policy.passes(6)}


def include_targets(root: Node) -> set[str]:
    """Every include and redirect target of the tree, as written (a macro template stays a template) and as
    resolved (the names of the records reached), lower case."""
    found = {node.name.lower() for node in root.walk()}
    for node in root.walk():
        for info in node.terms:
            term = info.term.lstrip("+-~?")
            if term.lower().startswith(("include:", "redirect=")):
                found.add(term.split(":" if term.lower().startswith("include:") else "=", 1)[1].lower().rstrip("."))
    return found


def coverage(root: Node, policy: Policy, senders: list[SenderSet], catalogue: Catalogue | None = None
             ) -> dict[str, Coverage]:
    out: dict[str, Coverage] = {}
    terms = list(_root_terms(root))
    catalogue = catalogue or load_catalogue()
    targets = include_targets(root) if any(s.platform.kind != "name" for s in senders) else set()
    for sender in senders:
        name = sender.platform.name
        if sender.platform.kind != "name":  # the include itself is the whole check (RFC 7208 §7: per message)
            via = sorted(t for t in targets if catalogue.matches(sender.platform, t))
            out[name] = Coverage(name, CoverageStatus.FULL if via else CoverageStatus.NONE, [], via)
            continue
        if sender.error is not None or not (sender.v4 or sender.v6):
            out[name] = Coverage(name, CoverageStatus.UNKNOWN,
                                 error=sender.error or "the platform's SPF chain authorises nothing")
            continue
        missing = (sender.v4 - policy.passes(4)).cidrs() + (sender.v6 - policy.passes(6)).cidrs()
        covered = (sender.v4 & policy.passes(4)) or (sender.v6 & policy.passes(6))
        status = CoverageStatus.FULL if not missing else CoverageStatus.PARTIAL if covered else CoverageStatus.NONE
        via = [text for text, sets in terms
               if any(sets.get(v) is not None and sets[v] & sender.family(v) for v in (4, 6))]
        out[name] = Coverage(name, status, [str(n) for n in missing], via)
    return out


MAX_SAMPLES = 512  # check_host() evaluations per platform


def depends_on_the_message(policy: Policy, sender: SenderSet) -> bool:
    """Whether a term that cannot be decided statically (a macro include, exists, ptr) is reached for some of the
    platform's addresses: then only check_host() itself can tell what they get."""
    return any((conditional := policy.family(v).conditional) is not None and bool(conditional & sender.family(v))
               for v in (4, 6))


async def sampled_coverage(domain: str, dns: DnsClient, sender: SenderSet, exact: Coverage) -> Coverage:
    """Coverage of a record whose outcome depends on the message, measured: the whole record evaluated with
    check_host() (RFC 7208 §4, every limit applied) for the ends and a middle of each of the platform's ranges
    (one address per range, and every n-th range, for platforms too large for ``MAX_SAMPLES``). A range is
    missing when any of its samples does not pass; a sample whose evaluation met a DNS failure (temperror) makes the
    coverage unknown rather than missing."""
    networks = sender.v4.cidrs() + sender.v6.cidrs()
    points = {n: sample_points(n) for n in networks}
    if len(networks) * 3 > MAX_SAMPLES:
        step = -(-len(networks) // MAX_SAMPLES)
        points = {n: p[:1] for n, p in list(points.items())[::step]}
    gate = asyncio.Semaphore(64)

    async def results(network) -> list[str]:
        async def one(address) -> str:
            async with gate:
                found = await check_host_async(str(address), domain, f"postmaster@{domain}", helo=domain, dns=dns)
            return found.result

        return list(await asyncio.gather(*(one(a) for a in points[network])))

    outcomes = dict(zip(points, await asyncio.gather(*(results(n) for n in points)), strict=True))
    samples = sum(len(r) for r in outcomes.values())
    failed = sum(r.count("temperror") for r in outcomes.values())
    if failed:
        return Coverage(exact.platform, CoverageStatus.UNKNOWN, via=exact.via, samples=samples,
                        error=f"{failed} of {samples} sampled evaluations met a DNS failure (temperror)")
    missing = [str(n) for n, r in outcomes.items() if any(x != "pass" for x in r)]
    passed = any("pass" in r for r in outcomes.values())
    status = CoverageStatus.FULL if not missing else CoverageStatus.PARTIAL if passed else CoverageStatus.NONE
    return Coverage(exact.platform, status, missing, exact.via, samples=samples)


def classify_ranges(root: Node, senders: list[SenderSet], catalogue: Catalogue | None = None) -> list[RangeInfo]:
    """Each ip4/ip6 term of the domain's own records: a current vendor range, a retired one, or unrecognised."""
    catalogue = catalogue or load_catalogue()
    infos = []
    for node, path in root.walk_paths():
        if node.parsed is None or not within(node.name, root.name):
            continue
        where = " > ".join(path)
        for mech in node.parsed.mechanisms:
            if mech.network is None:
                continue
            net, version = mech.network, mech.network.version
            term_set = IPSet.of(version, [net])
            platforms = [s.platform.name for s in senders if s.family(version) & term_set]
            if platforms:
                infos.append(RangeInfo(mech.render(), where, platforms, "vendor"))
                continue
            retired = catalogue.retired_overlapping(net)
            if retired:
                r = retired[0]
                owner = catalogue.platforms[r.platform].owner if r.platform in catalogue.platforms else r.platform
                infos.append(RangeInfo(mech.render(), where, [], "stale", owner,
                                       f"{r.what}; retired {r.retired}"))
                continue
            infos.append(RangeInfo(mech.render(), where, [], "unrecognized"))
    return infos


def coverage_findings(cov: dict[str, Coverage], ranges: list[RangeInfo], expected: list[str],
                      domain: str) -> list[Finding]:
    out = []
    catalogue = load_catalogue()
    for name, c in cov.items():
        display = catalogue.platforms[name].display
        include = catalogue.platforms[name].include
        measured = f" (check_host() on {c.samples} sampled addresses: the record depends on the message)" \
            if c.samples else ""
        if c.status == "none":
            out.append(Finding("missing-vendor", "error", f"{display} ({name}) is not authorised{measured}: add "
                               f"include:{include}", domain))
        elif c.status == "partial":
            shown = ", ".join(c.missing[:6]) + (f" and {len(c.missing) - 6} more" if len(c.missing) > 6 else "")
            remedy = f"add include:{include}" if c.samples else f"publish include:{include} instead of copied ranges"
            out.append(Finding("partial-vendor", "warning", f"{display} ({name}) is only partly authorised"
                               f"{measured}: missing {shown}; {remedy}", domain))
        elif c.status == "unknown":
            out.append(Finding("temporary-failure", "error", f"sender ranges of {name} could not be resolved: "
                               f"{c.error}", domain))
    for r in ranges:
        if r.status == "stale":
            out.append(Finding("stale-vendor-range", "warning", f"{r.term} is a retired {r.owner} range ({r.note}): "
                               "the vendor no longer sends from it; remove it", r.where, r.term))
        elif r.status == "unrecognized" and expected:
            out.append(Finding("unrecognized-range", "info", f"{r.term} is not published by any expected platform "
                               f"({', '.join(expected)})" + (f"; owner: {r.owner}" if r.owner else ""),
                               r.where, r.term))
    return out
