"""``check``: the audit of one domain — the tree walk, its findings, DMARC and MX, and optional evaluations.

Pure logic over an injected DNS client; rendering lives in the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from spfguard.dmarc import DmarcSummary, fetch_dmarc, parse_dmarc
from spfguard.dns.base import DnsClient, Status
from spfguard.findings import Finding
from spfguard.policy import Policy, decide
from spfguard.rules import PERMERROR_CODES, dmarc_findings, parked_findings, tree_findings
from spfguard.spf.evaluator import SpfResult, check_host_async
from spfguard.spf.limits import LOOKUP_LIMIT, MX_LIMIT, RECORD_BYTES_LIMIT, VOID_LIMIT
from spfguard.tree import Node, walk_tree
from spfguard.vendors.coverage import (
    Coverage,
    RangeInfo,
    SenderSet,
    classify_ranges,
    coverage,
    coverage_findings,
    depends_on_the_message,
    sampled_coverage,
    sender_sets,
)

__all__ = ["LOOKUP_LIMIT", "MX_LIMIT", "RECORD_BYTES_LIMIT", "VOID_LIMIT", "Report", "audit"]


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
    parked: bool = False  # checked as a domain that sends and receives no mail
    policy: Policy | None = field(default=None, repr=False)  # decide(tree), when coverage needed it

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
        """What a receiver would make of the record in the worst case. An error seen in the part of the tree
        that could be read is definite (the counts of that part are lower bounds): it wins over "could not
        check"."""
        if any(f.severity == "error" and f.code in PERMERROR_CODES for f in self.findings):
            return "permerror"
        if self.voids6 > VOID_LIMIT:  # only IPv6 senders, and only at receivers with the strict void rule
            return "permerror for IPv6 senders"
        if self.incomplete:
            return "could not check"
        if self.tree.status == "no-record":
            return "none"
        return "valid"


async def audit(domain: str, dns: DnsClient, *, ips: Sequence[str] = (), warn_lookups: int = 9,
                dmarc: bool = True, expect: Sequence[str] = (),
                senders: Sequence[SenderSet] | None = None, parked: bool = False, alone: bool = False) -> Report:
    """Audit one domain. ``expect`` names catalogue platforms whose coverage is checked; callers auditing
    many domains resolve the platforms' sender sets once and pass them as ``senders``. ``parked``: the domain
    sends and receives no mail, and its lockdown is checked. ``alone``: the only domain of the run, so its walk
    leaves the CPU idle and checkdmarc's import may fill the waits (:func:`spfguard.dmarc.start_parser_import`)."""
    domain = domain.rstrip(".").lower()
    tree_task = walk_tree(domain, dns)
    dmarc_task = fetch_dmarc(domain, dns, import_parser=alone) if dmarc else _given(None)
    mx_task = dns.query(domain, "MX") if dmarc else _given(None)
    senders_task = _given(senders) if senders is not None else sender_sets(list(expect), dns)
    evals = [check_host_async(ip, domain, f"postmaster@{domain}", helo=domain, dns=dns) for ip in ips]
    tree, found_dmarc, mx, senders, *results = await asyncio.gather(tree_task, dmarc_task, mx_task, senders_task,
                                                                     *evals)
    dmarc_summary = await parse_dmarc(found_dmarc, dns) if found_dmarc is not None else None  # after the walk
    report = Report(domain, tree, dmarc=dmarc_summary, evaluations=list(zip(ips, results, strict=True)),
                    parked=parked)
    if mx is not None:
        report.mx = [host for _, host in sorted(mx.records)] if mx.status is Status.ANSWER else []
    report.findings = tree_findings(tree, warn_lookups=warn_lookups)
    if tree.parsed is not None and senders:  # the decision is worked out only when coverage needs it
        policy = report.policy = decide(tree)
        report.coverage = coverage(tree, policy, list(senders))
        measured = [s for s in senders if report.coverage[s.platform.name].status != "unknown"
                    and depends_on_the_message(policy, s)]
        for found in await asyncio.gather(*(sampled_coverage(domain, dns, s, report.coverage[s.platform.name])
                                             for s in measured)):
            report.coverage[found.platform] = found
    report.ranges = classify_ranges(tree, list(senders))
    report.findings.extend(coverage_findings(report.coverage, report.ranges, [s.platform.name for s in senders],
                                             domain))
    if dmarc_summary is not None:
        report.findings.extend(dmarc_findings(domain, dmarc_summary))
    if parked:
        records = None  # not looked up, or the lookup failed: not judged
        if mx is not None and mx.status is not Status.TEMPFAIL:
            records = sorted(mx.records) if mx.status is Status.ANSWER else []
        report.findings.extend(parked_findings(domain, tree.record, dmarc_summary, records))
    return report


async def _given(value):
    return value




WINDOW = 256  # domains audited at once: enough to keep hundreds of queries in flight, bounded memory


async def audit_stream(domains: Sequence[str], dns: DnsClient, *, window: int = WINDOW, per_domain=None,
                       audit_fn=None, **kwargs) -> AsyncIterator[tuple[int, Report]]:
    """Audit up to ``window`` domains at once (sharing the DNS client and its cache) and yield each report in
    input order as soon as it and those before it are done (``per_domain(name)``: more keyword arguments for one
    domain's audit; ``audit_fn``: the audit to run, :func:`audit` by default). Tasks are started as others finish,
    so memory stays bounded however long the list (at most ``4 × window`` finished reports wait for a slow one)."""
    audit_fn = audit_fn or audit
    running: dict[asyncio.Task, int] = {}
    finished: dict[int, Report] = {}
    next_start = next_out = 0
    try:
        while next_out < len(domains):
            while next_start < len(domains) and len(running) < window and next_start - next_out < 4 * window:
                extra = per_domain(domains[next_start]) if per_domain else {}  # e.g. each domain's expected senders
                running[asyncio.ensure_future(audit_fn(domains[next_start], dns, **kwargs, **extra))] = next_start
                next_start += 1
            if next_out in finished:
                yield next_out, finished.pop(next_out)
                next_out += 1
                continue
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                finished[running.pop(task)] = task.result()
    finally:
        for task in running:
            task.cancel()
