"""The tree view: every include and redirect with what it costs, the running total, and the term at which an
evaluation passes the limit of 10 lookups (where receivers stop with permerror); then MX, DMARC and findings.
``verbose`` lists each record's ranges instead of counting them."""

from __future__ import annotations

from spfguard.audit import Report
from spfguard.report import Renderer
from spfguard.report.text import findings_table, headline, voids
from spfguard.spf.limits import LOOKUP_LIMIT
from spfguard.textsafe import safe
from spfguard.tree import Node, TermInfo, running_totals


def over_limit_term(root: Node) -> TermInfo | None:
    """The term whose lookup is the 11th in evaluation order (worst case), or None."""
    count = 0

    def visit(node: Node) -> TermInfo | None:
        nonlocal count
        for info in node.terms:
            count += info.lookups
            if count > LOOKUP_LIMIT:
                return info
            if info.child is not None:
                found = visit(info.child)
                if found is not None:
                    return found
        return None

    return visit(root)


class TreeRenderer(Renderer):
    def add(self, index: int, report: Report) -> str:
        lines = [f"{report.domain}  [{report.lookups}/{LOOKUP_LIMIT} lookups · void lookups {voids(report)} · "
                 f"{report.verdict}]"]
        self._marked = over_limit_term(report.tree)
        self._totals = running_totals(report.tree)
        self._lines(report.tree, "", lines)
        lines += headline(report, self.options.color)[2:]  # MX and DMARC
        for name, cov in report.coverage.items():
            lines.append(f"  coverage {name}: {cov.status}" + (f" (missing {', '.join(cov.missing)})"
                                                               if cov.missing else ""))
        if report.findings:
            lines += ["", findings_table(report, self.options.color)]
        return ("" if index == 0 else "\n") + "\n".join(lines) + "\n"

    def _lines(self, node: Node, prefix: str, lines: list[str]) -> None:
        items: list[tuple[str, Node | None]] = []
        if node.status != "ok":
            items.append((f"! {node.status}: {safe(node.error)}", None))
        if node.parsed is not None:
            ranges = [m for m in node.parsed.reachable if m.kind in ("ip4", "ip6")]
            if ranges and self.options.verbose:
                items += [(safe(m.render()), None) for m in ranges]
            elif ranges:
                v4 = sum(m.kind == "ip4" for m in ranges)
                items.append((f"{v4} ip4, {len(ranges) - v4} ip6 range(s)", None))
            for info in node.terms:
                mark = "  ◀ lookup 11: receivers stop here with permerror" if info is self._marked else ""
                if info.child is not None:
                    label = (f"{safe(info.term)}  (+{info.lookups}, subtree {info.lookups + info.child.total_lookups}, "
                             f"running total {self._totals.get(id(info.child), 0)}){mark}")
                    items.append((label, info.child))
                    continue
                extra = ""
                if info.macro:
                    extra = " macro: resolved per message"
                elif info.mx_hosts:
                    extra = f" {info.mx_hosts} MX host(s)"
                void = f", void v4 {info.voids4} / v6 {info.voids6}" if info.voids4 or info.voids6 else ""
                items.append((f"{safe(info.term)}  (+{info.lookups}{void}){extra}{mark}", None))
            if node.parsed.all is not None:
                items.append((node.parsed.all.render(), None))
            if node.parsed.ignored:
                ignored = " ".join(m.render() for m in node.parsed.ignored)
                items.append((f"(never evaluated, after all: {safe(ignored)})", None))
        for i, (label, child) in enumerate(items):
            last = i == len(items) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
            if child is not None:
                self._lines(child, prefix + ("    " if last else "│   "), lines)
