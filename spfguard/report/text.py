"""Plain-text renderers: the table a person reads (``table``) and one line per domain (``summary``)."""

from __future__ import annotations

from tabulate import tabulate

from spfguard.audit import Report
from spfguard.findings import SEVERITIES, severity_rank
from spfguard.report import Renderer
from spfguard.spf.limits import LOOKUP_LIMIT, VOID_LIMIT
from spfguard.spf.terms import Mechanism
from spfguard.textsafe import safe
from spfguard.tree import Node, running_totals

_COLORS = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}
_VERDICT_COLORS = {"valid": "\x1b[32m", "permerror": "\x1b[31m", "could not check": "\x1b[33m"}
_RESET = "\x1b[0m"


def paint(text: str, color: str | None, enabled: bool) -> str:
    return f"{color}{text}{_RESET}" if enabled and color else text


def verdict_color(report: Report) -> str | None:
    """Green only for a record without errors: ``v=spf1 +all`` parses ("valid") but authorises everyone."""
    if report.verdict == "valid" and any(f.severity == "error" for f in report.findings):
        return _COLORS["error"]
    return _VERDICT_COLORS.get(report.verdict.split(" for ")[0])


def voids(report: Report) -> str:
    return f"{report.voids4}/{VOID_LIMIT} (IPv6 {report.voids6}/{VOID_LIMIT})"


def counts(report: Report) -> str:
    found = {s: sum(f.severity == s for f in report.findings) for s in reversed(SEVERITIES)}
    return ", ".join(f"{n} {s}" for s, n in found.items() if n) or "none"


def worst(report: Report) -> str:
    return max((f.severity for f in report.findings), key=severity_rank, default="")


def headline(report: Report, color: bool = False) -> list[str]:
    verdict = paint(report.verdict, verdict_color(report), color)
    lines = [f"{report.domain}: {safe(report.record) if report.record is not None else _no_record(report)}",
             f"  lookups {report.lookups}/{LOOKUP_LIMIT} · void lookups {voids(report)} · verdict: {verdict}"]
    if report.mx is not None:
        hosts = ", ".join(safe(m) for m in report.mx) or "(none)"
        null = report.mx in (["."], [""])  # RFC 7505: the domain accepts no mail
        lines.append(f"  MX: {'null MX (accepts no mail, RFC 7505)' if null else hosts}")
    if report.dmarc is not None:
        d = report.dmarc
        if d.present:
            lines.append(f"  DMARC: p={safe(d.policy)} sp={safe(d.subdomain_policy)} pct={d.pct} "
                         f"rua={'yes' if d.rua else 'no'} (at _dmarc.{d.record_domain})")
        else:
            lines.append(f"  DMARC: {'lookup failed: ' + safe(d.error) if d.temporary else 'none'}")
    return lines


def _no_record(report: Report) -> str:
    tree = report.tree
    if tree.status == "no-record" and tree.error and "does not exist" in tree.error:
        return "(the domain does not exist)"
    if tree.status == "temperror":
        return "(could not be read)"
    return "(no SPF record)"


def findings_table(report: Report, color: bool = False) -> str:
    rows = [[paint(f.severity, _COLORS.get(f.severity), color), f.code, safe(f.where),
             safe(f.message) + (f" (×{f.count})" if f.count > 1 else "")]
            for f in sorted(report.findings, key=lambda f: -severity_rank(f.severity))]
    return tabulate(rows, headers=["severity", "code", "where", "message"], maxcolwidths=[None, None, 40, 70])


def term_rows(node: Node) -> list[list]:
    """The root record term by term: result, lookups of its subtree and the running total."""
    by_term = {id(info.ref): info for info in node.terms}
    totals = running_totals(node)
    rows: list[list] = []
    count = 0
    parsed = node.parsed
    if parsed is None:
        return rows
    for term in parsed.terms:
        result = term.result if isinstance(term, Mechanism) else "modifier"
        info = by_term.get(id(term))
        if info is None:  # not a DNS-querying term, or never reached (after all; a redirect beside all)
            ignored = isinstance(term, Mechanism) and any(term is m for m in parsed.ignored)
            rows.append([safe(term.render()), "never evaluated" if ignored else result, "", ""])
            continue
        subtree = info.lookups + (info.child.total_lookups if info.child else 0)
        count = totals[id(info.child)] if info.child else count + info.lookups
        rows.append([safe(term.render()), result, subtree, count])
    return rows


class TableRenderer(Renderer):
    def __init__(self, options):
        super().__init__(options)
        self.summary: list[list] = []

    def begin(self) -> str:
        return f"note: {self.options.snapshot_note}\n" if self.options.snapshot_note else ""

    def add(self, index: int, report: Report) -> str:
        color = self.options.color
        lines = headline(report, color)
        if self.options.detail and report.tree.parsed is not None:
            lines += ["", tabulate(term_rows(report.tree), headers=["term", "result", "lookups", "cumulative"])]
        for name, cov in report.coverage.items():
            missing = f" — missing {', '.join(cov.missing[:4])}{' …' if len(cov.missing) > 4 else ''}" \
                if cov.missing else ""
            via = f" via {', '.join(safe(v) for v in cov.via)}" if cov.via else ""
            sampled = f" (measured: check_host() on {cov.samples} addresses)" if cov.samples else ""
            lines.append(f"  coverage {name}: {cov.status}{sampled}{via}{missing}")
        for ip, res in report.evaluations:
            path = " → ".join(safe(s.term) for s in res.path) or safe(res.reason)
            lines.append(f"  check_host({ip}) = {res.result}  via {path}")
        lines += ["", findings_table(report, color)] if report.findings else ["  no findings"]
        self.summary.append([report.domain, f"{report.lookups}/{LOOKUP_LIMIT}", voids(report), report.verdict,
                             counts(report)])
        return ("" if index == 0 else "\n") + "\n".join(lines) + "\n"

    def end(self) -> str:
        if len(self.summary) < 2:
            return ""
        return "\n" + tabulate(self.summary, headers=["domain", "lookups", "void lookups", "verdict", "findings"]) \
            + "\n"


class SummaryRenderer(Renderer):
    """One line per domain, for bulk runs: domain, lookups, voids, verdict, findings by code."""

    def add(self, index: int, report: Report) -> str:
        codes = ", ".join(sorted({f.code for f in report.findings})) or "-"
        verdict = paint(report.verdict, verdict_color(report), self.options.color)
        return f"{report.domain}  {report.lookups}/{LOOKUP_LIMIT}  voids {voids(report)}  {verdict}  {codes}\n"
