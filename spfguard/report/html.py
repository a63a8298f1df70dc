"""One self-contained HTML file — for one domain, many, a plan, or a whole fleet from the monitor's store.

CSS and the little JavaScript are inline, and a Content-Security-Policy meta tag (with their hashes) forbids any
request to anywhere else, so the file works offline and can be mailed or attached as it is. Without JavaScript
it is complete: the include tree is expanded (``<details open>``), tables are plain; JavaScript adds
expand/collapse, opening the whole tree for printing, and sorting and filtering of the fleet table. Text from DNS
is escaped by the template engine (HTML) and for control characters."""

from __future__ import annotations

import base64
import datetime
import hashlib
from importlib import resources
from typing import Any

from spfguard import __version__
from spfguard.audit import Report
from spfguard.findings import SEVERITIES, severity_rank
from spfguard.report import Options, Renderer
from spfguard.report.tree import over_limit_term
from spfguard.spf.limits import LOOKUP_LIMIT
from spfguard.textsafe import safe
from spfguard.tree import Node, running_totals
from spfguard.vendors.catalogue import load_catalogue

PALETTE = ("#3457d5", "#2f9e8f", "#8e5bd6", "#d58a34", "#4c8c2b", "#c2417a", "#5b6475", "#1f77b4")


def _asset(name: str) -> str:
    return resources.files("spfguard.report").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def render_page(template: str, title: str, subtitle: str, **context) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("spfguard.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.globals["lookup_limit"] = LOOKUP_LIMIT
    style, script = _asset("report.css"), _asset("report.js")
    return env.get_template(template).render(
        title=safe(title), subtitle=safe(subtitle), style=style, script=script, style_hash=_hash(style),
        script_hash=_hash(script), version=__version__,
        generated=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), **context)


# ---- one domain ------------------------------------------------------------------------------------------

def verdict_class(verdict: str) -> str:
    return {"valid": "", "none": "none", "could not check": "warn"}.get(verdict, "bad")


def domain_view(report: Report, expect=(), plan=None) -> dict:
    marked = over_limit_term(report.tree)
    catalogue = load_catalogue()
    dmarc = report.dmarc
    return {
        "domain": report.domain, "anchor": "d-" + report.domain.replace(".", "-"),
        "record": safe(report.record) if report.record else None,
        "no_record": "(the domain does not exist)" if report.tree.error and "does not exist" in report.tree.error
        else "(no SPF record)",
        "verdict": report.verdict, "verdict_class": verdict_class(report.verdict),
        "lookups": report.lookups, "voids4": report.voids4, "voids6": report.voids6,
        "scale": max(LOOKUP_LIMIT, report.lookups), "segments": _segments(report.tree),
        "mx": ", ".join(safe(m) for m in report.mx or []),
        "dmarc": (f"p={dmarc.policy} sp={dmarc.subdomain_policy} pct={dmarc.pct}" if dmarc and dmarc.present
                  else "lookup failed" if dmarc and dmarc.temporary else "none") if dmarc else "not checked",
        "findings": [{"severity": f.severity, "code": f.code, "message": safe(f.message), "where": safe(f.where),
                      "explanation": f.explanation, "hint": f.hint}
                     for f in sorted(report.findings, key=lambda f: -severity_rank(f.severity))],
        "counts": ", ".join(f"{n} {s}" for s in reversed(SEVERITIES)
                            if (n := sum(f.severity == s for f in report.findings))) or "none",
        "coverage": [{"platform": name, "display": catalogue.platforms[name].display, "status": c.status,
                      "missing": c.missing, "via": [safe(v) for v in c.via], "samples": c.samples}
                     for name, c in report.coverage.items()],
        "evaluations": [{"ip": ip, "result": r.result, "path": safe(" → ".join(s.term for s in r.path) or r.reason)}
                        for ip, r in report.evaluations],
        "tree": node_view(report.tree, marked) if report.tree.parsed is not None or report.tree.status != "ok"
        else None,
        "plan": plan_view(plan) if plan is not None else None,
    }


def _segments(root: Node) -> list[dict]:
    """The lookup budget: what each top-level term costs (an include with its whole subtree)."""
    segments: list[dict] = []
    start = 0
    own = 0
    for info in root.terms:
        cost = info.lookups + (info.child.total_lookups if info.child else 0)
        if info.child is None:
            own += cost
            continue
        segments.append({"label": safe(info.term), "size": cost, "start": start,
                         "color": PALETTE[len(segments) % len(PALETTE)]})
        start += cost
    if own:
        segments.append({"label": "the record's own a/mx/ptr/exists terms", "size": own, "start": start,
                         "color": "#9aa3b5"})
    return segments


def node_view(node: Node, marked, running: int = 0, totals: dict[int, int] | None = None) -> dict:
    totals = running_totals(node) if totals is None else totals
    terms = []
    count = running
    for info in node.terms:
        count += info.lookups
        view: dict[str, Any] = {
            "term": safe(info.term), "lookups": info.lookups, "voids4": info.voids4, "voids6": info.voids6,
            "marked": info is marked, "running": count, "child": None,
            "detail": "macro: resolved per message" if info.macro else
            (f"{info.mx_hosts} MX host(s)" if info.mx_hosts else (safe(info.error) if info.error else ""))}
        if info.child is not None:
            child = node_view(info.child, marked, count, totals)
            child["marked"] = info is marked
            child["cost"] = info.lookups + info.child.total_lookups
            view["child"] = child
            count = totals.get(id(info.child), count)
        terms.append(view)
    parsed = node.parsed
    return {"name": safe(node.name), "via": safe(node.via) if node.via else None, "status": node.status,
            "error": safe(node.error or ""), "record": safe(node.record) if node.record else None,
            "lookups": node.lookups, "subtree": node.total_lookups, "cumulative": totals.get(id(node), 0),
            "marked": False,
            "cost": node.total_lookups,
            "ranges": [safe(m.render()) for m in parsed.reachable if m.network is not None] if parsed else [],
            "terms": terms, "all": parsed.all.render() if parsed and parsed.all else None,
            "ignored": safe(" ".join(m.render() for m in parsed.ignored)) if parsed and parsed.ignored else ""}


def plan_view(plan) -> dict:
    diff = []
    for line in plan.diff().splitlines()[2:]:
        if line.startswith("@@"):
            continue
        kind = {"-": "del", "+": "add"}.get(line[:1], "")
        diff.append({"kind": kind, "sign": line[:1].strip(), "text": safe(line[1:])})
    return {"summary": f"lookups {plan.lookups_before} → {plan.lookups_after}; void lookups after: "
                       f"IPv4 {plan.voids_after[0]}, IPv6 {plan.voids_after[1]}",
            "actions": [safe(a) for a in plan.actions], "remaining": [safe(r) for r in plan.remaining + plan.problems],
            "diff": diff, "intended": [{"cidrs": d.cidrs[:8], "before": d.before, "after": d.after, "why": safe(d.why)}
                                       for d in plan.intended],
            "verdict": plan.verdict, "checksum": plan.checksum}


class HtmlRenderer(Renderer):
    """``check --format html``: the reports are collected (one page), then rendered at the end."""

    def __init__(self, options: Options):
        super().__init__(options)
        self.views: list[dict] = []

    def add(self, index: int, report: Report) -> str:
        self.views.append(domain_view(report, self.options.expect))
        return ""

    def end(self) -> str:
        names = [v["domain"] for v in self.views]
        title = f"SPF report: {names[0]}" if len(names) == 1 else f"SPF report: {len(names)} domains"
        subtitle = "SPF, DMARC and MX as receivers see them"
        return render_page("check.html.j2", title, subtitle, domains=self.views)


class PlanHtml(Renderer):
    """``fix --format html``: the current record, its tree and the proposed change as one page."""

    def render(self, result) -> str:
        return plan_page(result.current, result.plan, self.options.expect)


def plan_page(report: Report, plan, expect=()) -> str:
    view = domain_view(report, expect, plan)
    return render_page("check.html.j2", f"SPF plan: {report.domain}", "the current record and the proposed change",
                       domains=[view])
