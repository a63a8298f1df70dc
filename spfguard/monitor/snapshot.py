"""A snapshot of one domain: everything drift detection compares. Versioned, because it is stored and read back
by other runs, other shards and later releases: :meth:`Snapshot.to_json` writes the current format,
:meth:`Snapshot.from_json` reads every format written so far."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from spfguard.audit import Report
from spfguard.errors import UserError
from spfguard.policy import RESULTS, Memo, decide
from spfguard.spf.limits import LOOKUP_LIMIT, VOID_LIMIT

# 1: spfguard 0.1 (no "format" key); 2: include_ranges also holds flattened sources;
# 3: findings as {"severity", "code"} objects, not "severity:code" strings; 4: senders (from stored DMARC reports)
SNAPSHOT_FORMAT = 4


@dataclass(frozen=True)
class FindingRef:
    severity: str
    code: str


@dataclass
class Snapshot:
    domain: str
    incomplete: bool = False
    records: dict[str, str] = field(default_factory=dict)  # name -> record text, or "(status)"
    ranges: dict[str, list[str]] = field(default_factory=dict)  # result -> CIDRs
    include_ranges: dict[str, list[str]] = field(default_factory=dict)  # include -> the ranges it authorises
    flattened: dict[str, list[str]] = field(default_factory=dict)  # provenance: include -> the ranges copied from it
    lookups: int = 0
    verdict: str | None = None
    void_lookups: int = 0
    void_lookups_ipv6: int = 0
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)  # platform -> Coverage.to_json()
    ms_version: str | None = None
    findings: list[FindingRef] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # temporary failures, in words
    limits: dict[str, int] = field(default_factory=lambda: {"lookups": LOOKUP_LIMIT, "voids": VOID_LIMIT})
    senders: dict[str, Any] | None = None  # who sent as the domain in the stored reports (Senders.summary())
    format: int = SNAPSHOT_FORMAT

    def codes(self, severity: str | None = None) -> set[str]:
        return {f.code for f in self.findings if severity is None or f.severity == severity}

    def to_json(self) -> dict[str, Any]:
        """What :func:`dataclasses.asdict` gives (the test suite holds them equal), without its deep copy: the
        result is encoded at once, and a fleet run writes one per domain."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["findings"] = [{"severity": f.severity, "code": f.code} for f in self.findings]
        data["format"] = SNAPSHOT_FORMAT
        return data

    @classmethod
    def from_json(cls, data: Any) -> Snapshot:
        """Any stored format (1–4); a newer one, or one of the wrong shape, is refused with a clear message."""
        if not isinstance(data, dict) or not isinstance(data.get("domain"), str):
            raise UserError("a stored snapshot is not an spfguard snapshot (no domain)")
        version = data.get("format", 1)
        if not isinstance(version, int) or version > SNAPSHOT_FORMAT:
            raise UserError(f"a stored snapshot has format {version!r}, newer than this spfguard understands "
                            f"({SNAPSHOT_FORMAT}): upgrade spfguard")
        findings = []
        for item in data.get("findings", []):
            if isinstance(item, str):  # formats 1 and 2
                severity, _, code = item.partition(":")
                findings.append(FindingRef(severity, code))
            elif isinstance(item, dict):
                findings.append(FindingRef(str(item.get("severity")), str(item.get("code"))))
        known = {k: data[k] for k in ("incomplete", "records", "ranges", "include_ranges", "lookups", "verdict",
                                      "void_lookups", "void_lookups_ipv6", "coverage", "ms_version", "errors",
                                      "limits", "flattened", "senders") if k in data}
        return cls(data["domain"], findings=findings, format=version, **known)


def take(report: Report, ms_version: str | None, senders=(), sources: dict[str, list[str]] | None = None,
         flattened: dict[str, list[str]] | None = None) -> Snapshot:
    """``senders``: the expected platforms' sender sets, whose changes matter even under a flattened record;
    ``sources``: include -> its current ranges, for the includes the domain has flattened; ``flattened``: the
    provenance itself (include -> the ranges copied into the record when it was flattened)."""
    tree = report.tree
    memo: Memo = {}  # the decisions of the tree's own records, made once for the root and every node below
    policy = (report.policy or decide(tree, memo)) if tree.parsed is not None else None
    includes = {}
    for node in tree.walk():
        if node is tree or node.parsed is None:
            continue
        node_policy = decide(node, memo)
        includes[node.name] = [*node_policy.passes(4).cidr_texts(), *node_policy.passes(6).cidr_texts()]
    for sender in senders:
        if sender.error is None:
            includes.setdefault(sender.platform.include, sender.cidrs())
    for include, cidrs in (sources or {}).items():
        includes.setdefault(include, cidrs)
    ranges = {}
    if policy is not None:
        ranges = {r: [*policy.v4.get(r).cidr_texts(), *policy.v6.get(r).cidr_texts()]
                  for r in RESULTS if policy.v4.get(r) or policy.v6.get(r)}
    return Snapshot(
        domain=report.domain,
        incomplete=report.incomplete,
        records={n.name: n.record if n.record is not None else f"({n.status})" for n in tree.walk()},
        ranges=ranges,
        include_ranges=includes,
        lookups=report.lookups,
        verdict=report.verdict,
        void_lookups=report.voids4,
        void_lookups_ipv6=report.voids6,
        coverage={name: c.to_json() for name, c in report.coverage.items()},
        ms_version=ms_version,
        findings=sorted({FindingRef(f.severity, f.code) for f in report.findings}, key=lambda f: (f.severity, f.code)),
        errors=[f.message for f in report.findings if f.severity == "error" and f.code == "temporary-failure"],
        flattened=dict(flattened or {}),
    )
