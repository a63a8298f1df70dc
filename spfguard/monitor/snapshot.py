"""A snapshot of one domain: everything drift detection compares, as plain JSON-able data."""

from __future__ import annotations

from spfguard.audit import LOOKUP_LIMIT, VOID_LIMIT, Report
from spfguard.policy import RESULTS, decide

SNAPSHOT_FORMAT = 2  # 1: spfguard 0.1 (no "format" key); 2: include_ranges also holds flattened sources


def take(report: Report, ms_version: str | None, senders=(), sources: dict[str, list[str]] | None = None) -> dict:
    """``senders``: the expected platforms' sender sets, whose changes matter even under a flattened record;
    ``sources``: include -> its current ranges, for the includes the domain has flattened (provenance)."""
    tree = report.tree
    policy = decide(tree) if tree.parsed is not None else None
    includes = {}
    for node in tree.walk():
        if node is tree or node.parsed is None:
            continue
        node_policy = decide(node)
        includes[node.name] = [str(n) for v in (4, 6) for n in node_policy.passes(v).cidrs()]
    for sender in senders:
        if sender.error is None:
            includes.setdefault(sender.platform.include, sender.cidrs())
    for include, cidrs in (sources or {}).items():
        includes.setdefault(include, cidrs)
    return {
        "format": SNAPSHOT_FORMAT,
        "domain": report.domain,
        "incomplete": report.incomplete,
        "records": {n.name: n.record if n.record is not None else f"({n.status})" for n in tree.walk()},
        "ranges": {r: [str(n) for v in (4, 6) for n in policy.family(v).get(r).cidrs()]
                   for r in RESULTS if policy is not None and (policy.v4.get(r) or policy.v6.get(r))}
        if policy else {},
        "include_ranges": includes,
        "lookups": report.lookups,
        "verdict": report.verdict,
        "void_lookups": report.voids4,
        "void_lookups_ipv6": report.voids6,
        "coverage": {name: c.to_json() for name, c in report.coverage.items()},
        "ms_version": ms_version,
        "findings": sorted({f"{f.severity}:{f.code}" for f in report.findings}),
        "errors": [f.message for f in report.findings if f.severity == "error" and f.code == "temporary-failure"],
        "limits": {"lookups": LOOKUP_LIMIT, "voids": VOID_LIMIT},
    }
