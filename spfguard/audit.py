"""``check``: the audit of one domain — the tree walk, its findings, DMARC and MX, and optional evaluations.

Pure logic over an injected DNS client; rendering lives in the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from spfguard.dmarc import DmarcSummary, summarise_dmarc
from spfguard.dns.base import DnsClient, Status, within
from spfguard.findings import Finding
from spfguard.ipset import IPSet
from spfguard.policy import decide
from spfguard.spf.evaluator import SpfResult, check_host_async
from spfguard.spf.terms import QUALIFIER_RESULTS
from spfguard.tree import Node, walk
from spfguard.vendors.coverage import (
    Coverage,
    RangeInfo,
    SenderSet,
    classify_ranges,
    coverage,
    coverage_findings,
    sender_sets,
)

LOOKUP_LIMIT = 10  # RFC 7208 §4.6.4
VOID_LIMIT = 2
MX_LIMIT = 10
RECORD_BYTES_LIMIT = 450
WIDE_PREFIX = {4: 8, 6: 32}  # ranges this wide or wider are "permissive"


@dataclass
class Report:
    domain: str
    tree: Node
    findings: list[Finding] = field(default_factory=list)
    dmarc: DmarcSummary | None = None
    mx: list[str] | None = None
    evaluations: list[tuple[str, SpfResult]] = field(default_factory=list)
    coverage: dict[str, Coverage] = field(default_factory=dict)
    ranges: list[RangeInfo] = field(default_factory=list)

    @property
    def record(self) -> str | None:
        return self.tree.record

    @property
    def lookups(self) -> int:
        return self.tree.total_lookups

    @property
    def voids4(self) -> int:
        return self.tree.total_voids4

    @property
    def voids6(self) -> int:
        return self.tree.total_voids6

    @property
    def incomplete(self) -> bool:
        return any(f.code == "temporary-failure" for f in self.findings)

    @property
    def verdict(self) -> str:
        """What a receiver would make of the record in the worst case."""
        if self.incomplete:
            return "could not check"
        if self.tree.status == "no-record":
            return "none"
        if any(f.severity == "error" and f.code in _PERMERROR_CODES for f in self.findings):
            if self.lookups <= LOOKUP_LIMIT and self.voids4 <= VOID_LIMIT < self.voids6:
                return "permerror for IPv6 senders"
            return "permerror"
        return "valid"


_PERMERROR_CODES = {"too-many-lookups", "too-many-void-lookups", "multiple-records", "include-no-record",
                    "loop", "syntax-error", "mx-too-many-hosts"}


async def audit(domain: str, dns: DnsClient, *, ips: Sequence[str] = (), warn_lookups: int = 9,
                dmarc: bool = True, expect: Sequence[str] = (),
                senders: Sequence[SenderSet] | None = None) -> Report:
    """Audit one domain. ``expect`` names catalogue platforms whose coverage is checked; callers auditing
    many domains resolve the platforms' sender sets once and pass them as ``senders``."""
    domain = domain.rstrip(".").lower()
    tree_task = walk(domain, dns)
    dmarc_task = summarise_dmarc(domain, dns) if dmarc else _given(None)
    mx_task = dns.query(domain, "MX") if dmarc else _given(None)
    senders_task = _given(senders) if senders is not None else sender_sets(list(expect), dns)
    evals = [check_host_async(ip, domain, f"postmaster@{domain}", helo=domain, dns=dns) for ip in ips]
    tree, dmarc_summary, mx, senders, *results = await asyncio.gather(tree_task, dmarc_task, mx_task, senders_task,
                                                                       *evals)
    report = Report(domain, tree, dmarc=dmarc_summary, evaluations=list(zip(ips, results, strict=True)))
    if mx is not None:
        report.mx = [host for _, host in sorted(mx.records)] if mx.status is Status.ANSWER else []
    report.findings = tree_findings(tree, warn_lookups=warn_lookups)
    if tree.parsed is not None:
        report.coverage = coverage(tree, decide(tree), list(senders))
    report.ranges = classify_ranges(tree, list(senders))
    report.findings.extend(coverage_findings(report.coverage, report.ranges, [s.platform.name for s in senders],
                                             domain))
    if dmarc_summary is not None:
        report.findings.extend(dmarc_findings(domain, dmarc_summary))
    return report


async def _given(value):
    return value


def _where(path: tuple[str, ...]) -> str:
    return " > ".join(path)


def _effective_chain(root: Node) -> list[Node]:
    """The root and the records it redirects to: their ``all`` decides the domain's default."""
    chain, node = [root], root
    while node.parsed is not None and node.parsed.effective_redirect is not None:
        child = next((c for c in node.children if c.via and c.via.startswith("redirect=")), None)
        if child is None:
            break
        chain.append(child)
        node = child
    return chain


def tree_findings(root: Node, *, warn_lookups: int = 9) -> list[Finding]:
    out: list[Finding] = []
    add = out.append
    effective = {id(n) for n in _effective_chain(root)}
    for node, path in root.walk_paths():
        where = _where(path)
        out.extend(_node_status_findings(node, where, is_root=node is root))
        if node.parsed is None:
            continue
        record = node.parsed
        if len(node.record.encode()) > RECORD_BYTES_LIMIT:
            add(Finding("record-too-long", "warning",
                        f"{node.name}: record is {len(node.record.encode())} bytes (keep it under "
                        f"{RECORD_BYTES_LIMIT} so the answer fits a 512-byte UDP reply)", where))
        seen: dict[str, str] = {}
        for term in record.terms:
            key = term.render().lower()
            if key in seen:
                add(Finding("duplicate-term", "warning", f"{node.name}: {term.render()} appears twice", where,
                            term.render()))
            seen[key] = term.render()
        for mech in record.mechanisms:
            text = mech.render()
            if mech.kind == "ptr":
                add(Finding("ptr-used", "warning", f"{node.name}: {text} — ptr is deprecated (RFC 7208 §5.5);"
                            " list the senders' addresses instead", where, text))
            if mech.kind == "all" and mech.result == "pass":
                add(Finding("permissive-all", "error", f"{node.name}: {text} authorises every host on the "
                            "internet", where, text))
            elif mech.kind == "all" and mech.result == "neutral" and id(node) in effective:
                add(Finding("permissive-all", "warning", f"{node.name}: {text} gives no protection: "
                            "unlisted senders get neutral", where, text))
            if mech.network is not None and mech.result == "pass" and \
                    mech.network.prefixlen <= WIDE_PREFIX[mech.network.version]:
                add(Finding("permissive-all", "warning", f"{node.name}: {text} authorises "
                            f"{mech.network.num_addresses:,} addresses", where, text))
        if record.all is not None and record.redirect is not None:
            add(Finding("redirect-ignored", "warning", f"{node.name}: {record.redirect.render()} is never used "
                        f"because the record has {record.all.render()} (RFC 7208 §6.1)", where,
                        record.redirect.render()))
        if record.all is None and record.redirect is None and id(node) in effective:
            add(Finding("no-all", "warning", f"{node.name}: no 'all' and no 'redirect': unlisted senders get "
                        "neutral; end the record with -all or ~all", where))
        for info in node.terms:
            if info.error:
                add(Finding("temporary-failure", "error", f"{info.term}: {info.error}", where, info.term))
            if info.mx_hosts > MX_LIMIT:
                add(Finding("mx-too-many-hosts", "error", f"{info.term}: {info.mx_hosts} MX records (an mx term "
                            f"may look at {MX_LIMIT}): permerror", where, info.term))
            if info.macro:
                add(Finding("macro-term", "info", f"{info.term}: contains macros; counted as one lookup, "
                            "resolved per message", where, info.term))
    out.extend(_limit_findings(root, warn_lookups))
    out.extend(_redundant_ranges(root))
    return out


def _node_status_findings(node: Node, where: str, *, is_root: bool) -> list[Finding]:
    if node.status == "ok":
        return []
    if node.status == "temperror":
        return [Finding("temporary-failure", "error", f"{node.name}: {node.error}; could not check", where)]
    if node.status == "multiple-records":
        return [Finding("multiple-records", "error", f"{node.name} publishes {len(node.candidates)} SPF "
                        "records; receivers return permerror. Merge them into one.", where)]
    if node.status == "syntax-error":
        return [Finding("syntax-error", "error", f"{node.name}: {node.error}", where)]
    if node.status == "loop":
        return [Finding("loop", "error", node.error, where)]
    if node.status == "truncated":
        return [Finding("too-many-lookups", "error", f"{node.name}: {node.error}", where)]
    # no-record / invalid
    if is_root:
        return [Finding("no-record", "error", f"{node.name} has no SPF record: receivers cannot tell its "
                        "senders from forgers", where)]
    kind = "redirect target" if (node.via or "").startswith("redirect=") else "included domain"
    return [Finding("include-no-record", "error", f"{kind} {node.name}: {node.error}; receivers return permerror",
                    where)]


def _limit_findings(root: Node, warn_lookups: int) -> list[Finding]:
    out = []
    lookups = root.total_lookups
    if lookups > LOOKUP_LIMIT:
        out.append(Finding("too-many-lookups", "error", f"{lookups} DNS-querying terms (limit {LOOKUP_LIMIT}): "
                           "receivers return permerror once the 11th is reached", root.name))
    elif lookups >= warn_lookups:
        out.append(Finding("near-lookup-limit", "warning", f"{lookups} of {LOOKUP_LIMIT} DNS-querying terms "
                           "used: one more include breaks the record", root.name))
    for family, voids in (("IPv4", root.total_voids4), ("IPv6", root.total_voids6)):
        if voids > VOID_LIMIT:
            out.append(Finding("too-many-void-lookups", "error", f"{family} senders: {voids} void lookups "
                               f"(limit {VOID_LIMIT}): permerror for mail from {family} addresses", root.name))
    return out


def _effective_ranges(node: Node, qualifier: str | None, path: tuple[str, ...]):
    """(path, term text, network, effective result) for every ip4/ip6 term that can match."""
    path = (*path, node.via or node.name)
    if node.parsed is None:
        return
    for mech in node.parsed.mechanisms:
        if mech.network is not None:
            if qualifier is None:
                yield path, node, mech.render(), mech.network, mech.result
            elif mech.result == "pass":  # inside an include only a pass matches; the include's qualifier applies
                yield path, node, mech.render(), mech.network, qualifier
    for info in node.terms:
        if info.child is None:
            continue
        if info.term.lower().startswith("redirect="):
            yield from _effective_ranges(info.child, qualifier, path)
        else:
            result = QUALIFIER_RESULTS[info.term[0] if info.term[0] in "+-~?" else ""]
            yield from _effective_ranges(info.child, result if qualifier is None else qualifier, path)


def _redundant_ranges(root: Node) -> list[Finding]:
    """ip4/ip6 terms of the domain's own records already covered by other terms with the same result."""
    ranges = list(_effective_ranges(root, None, ()))
    out = []
    for i, (path, node, text, network, result) in enumerate(ranges):
        if not within(node.name, root.name):
            continue
        # an identical range counts as covering only when it comes first: the later copy is the redundant one
        others = [(p, t, n) for j, (p, _, t, n, r) in enumerate(ranges)
                  if j != i and r == result and n.version == network.version and (n != network or j < i)]
        version = network.version
        if others and IPSet.of(version, [network]).issubset(IPSet.of(version, [n for _, _, n in others])):
            covering = ", ".join(sorted({f"{t} ({_where(p)})" for p, t, n in others if n.overlaps(network)}))
            out.append(Finding("redundant-range", "warning", f"{text} is already authorised by {covering}",
                               _where(path), text))
    return out


def dmarc_findings(domain: str, summary: DmarcSummary) -> list[Finding]:
    where = f"_dmarc.{summary.record_domain or domain}"
    if summary.error and not summary.present:
        if summary.temporary:
            return [Finding("temporary-failure", "error", f"DMARC lookup failed: {summary.error}", where)]
        return [Finding("dmarc-missing", "warning", f"{domain}: {summary.error}", where)]
    if not summary.present:
        return [Finding("dmarc-missing", "warning", f"{domain} has no DMARC record: receivers get no policy "
                        "and the owner gets no reports", where)]
    if summary.policy == "none":
        return [Finding("dmarc-policy-none", "warning", f"DMARC p=none at {where}: mail that fails SPF and DKIM "
                        "is still delivered; move to quarantine or reject once reports are clean", where)]
    return []
