"""The versioned JSON form of a check report (schema: spfguard/schema/check.schema.json). Values are exact:
text from DNS is not escaped here (JSON escapes control characters itself)."""

from __future__ import annotations

import json

from spfguard.audit import Report
from spfguard.report import Renderer
from spfguard.spf.evaluator import SpfResult
from spfguard.tree import Node, TermInfo, running_totals

JSON_VERSION = 1


def node_to_json(node: Node, totals: dict[int, int] | None = None) -> dict:
    totals = running_totals(node) if totals is None else totals
    return {
        "name": node.name,
        "via": node.via,
        "status": node.status,
        "record": node.record,
        "error": node.error,
        "lookups": node.lookups,
        "subtree_lookups": node.total_lookups,
        "cumulative_lookups": totals.get(id(node), 0),
        "void_lookups": node.total_voids4,
        "void_lookups_ipv6": node.total_voids6,
        "terms": [term_to_json(t) for t in node.terms],
        "children": [node_to_json(c, totals) for c in node.children],
    }


def term_to_json(info: TermInfo) -> dict:
    out = {"term": info.term, "lookups": info.lookups, "void_lookups": info.voids4,
           "void_lookups_ipv6": info.voids6, "macro": info.macro}
    if info.mx_hosts:
        out["mx_records"] = info.mx_hosts
    if info.addresses4 or info.addresses6:
        out["addresses"] = info.addresses4 + info.addresses6
    if info.error:
        out["error"] = info.error
    return out


def evaluation_to_json(ip: str, result: SpfResult) -> dict:
    return {"ip": ip, "result": result.result, "explanation": result.explanation, "reason": result.reason,
            "path": [{"domain": s.domain, "term": s.term} for s in result.path],
            "lookups": result.lookups, "void_lookups": result.void_lookups,
            "trace": [{"domain": t.domain, "term": t.term, "depth": t.depth, "target": t.target, "matched": t.matched,
                       "macros": [{"macro": m, "value": v} for m, v in t.expansions]} for t in result.trace]}


def report_to_json(report: Report) -> dict:
    out = {
        "domain": report.domain,
        "record": report.record,
        "verdict": report.verdict,
        "lookups": report.lookups,
        "void_lookups": report.voids4,
        "void_lookups_ipv6": report.voids6,
        "findings": [f.to_json() for f in report.findings],
        "tree": node_to_json(report.tree),
        "dmarc": report.dmarc.to_json() if report.dmarc is not None else None,
        "mx": report.mx,
        "evaluations": [evaluation_to_json(ip, r) for ip, r in report.evaluations],
        "coverage": {name: c.to_json() for name, c in report.coverage.items()},
        "ranges": [r.to_json() for r in report.ranges],
        "parked": report.parked,
    }
    return out


class JsonRenderer(Renderer):
    """``{"version": 1, "results": [...]}``, streamed one report at a time."""

    def begin(self) -> str:
        return f'{{"version": {JSON_VERSION}, "results": ['

    def add(self, index: int, report: Report) -> str:
        return ("" if index == 0 else ",\n") + json.dumps(report_to_json(report), indent=2)

    def end(self) -> str:
        return "]}\n"
