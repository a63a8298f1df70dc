"""The fleet report (``spfguard monitor report``): from the monitor's store, the latest snapshot of every domain —
a summary table sortable and filterable by tenant, verdict, worst severity and lookups, the counts by finding code
— and per domain a timeline of its lookups and events as an inline SVG chart."""

from __future__ import annotations

import time
from collections import Counter
from html import escape

from spfguard.findings import severity_rank
from spfguard.monitor.snapshot import Snapshot
from spfguard.monitor.status import Fleet
from spfguard.report import Renderer
from spfguard.report.html import render_page
from spfguard.rules import PERMERROR_CODES
from spfguard.spf.limits import LOOKUP_LIMIT, VOID_LIMIT
from spfguard.textsafe import safe


def snapshot_verdict(snapshot: Snapshot) -> str:
    """Stored with each snapshot since format 2; worked out again for older ones."""
    if snapshot.verdict:
        return snapshot.verdict
    if snapshot.codes("error") & PERMERROR_CODES:
        return "permerror"
    if snapshot.void_lookups_ipv6 > VOID_LIMIT:
        return "permerror for IPv6 senders"
    return "could not check" if snapshot.incomplete else "valid"


def turning_points(points: list[tuple[float, int | None, bool]]) -> list[tuple[float, int | None, bool]]:
    """The runs where the line bends: the first, the last, and each one whose value differs from a neighbour's —
    a month of unchanged nightly runs is one segment, not thirty points (the report stays small)."""
    def value(i: int):
        return None if points[i][2] else points[i][1]

    return [p for i, p in enumerate(points)
            if i in (0, len(points) - 1) or value(i) != value(i - 1) or value(i) != value(i + 1)]


def timeline_svg(points: list[tuple[float, int | None, bool]], events: list[tuple[float, str, str]]) -> str:
    """Lookups per run as a line (the limit of 10 dashed), failed checks as gaps, changes and events as marks
    with a tooltip."""
    width, height, pad = 260, 48, 4
    if not points:
        return ""
    start, end = points[0][0], max(points[-1][0], points[0][0] + 1)
    top = max(LOOKUP_LIMIT + 2, max((p[1] or 0) for p in points) + 1)

    def x(t: float) -> float:
        return pad + (t - start) / (end - start) * (width - 2 * pad)

    def y(v: float) -> float:
        return height - pad - v / top * (height - 2 * pad)

    def day(t: float) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(t))

    points = turning_points(points)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="lookups per run">',
             f'<line x1="{pad}" x2="{width - pad}" y1="{y(LOOKUP_LIMIT):.1f}" y2="{y(LOOKUP_LIMIT):.1f}" '
             'stroke="#c62828" stroke-dasharray="3 3"/>']
    line = [f"{x(t):.1f},{y(v):.1f}" for t, v, incomplete in points if v is not None and not incomplete]
    if len(line) > 1:
        parts.append(f'<polyline fill="none" stroke="#3457d5" stroke-width="1.5" points="{" ".join(line)}"/>')
    for t, v, incomplete in points:
        if incomplete or v is None:
            parts.append(f'<rect x="{x(t) - 1:.1f}" y="{pad}" width="2" height="{height - 2 * pad}" fill="#b35900">'
                         f"<title>{day(t)}: could not check</title></rect>")
        else:
            parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="1.8" fill="#3457d5"><title>{day(t)}: {v} '
                         "lookups</title></circle>")
    marks: dict[tuple[str, str], tuple[float, list[str]]] = {}  # one mark per day and kind, messages in its tooltip
    for t, code, message in events[-50:]:
        at, texts = marks.setdefault((day(t), code), (min(max(t, start), end), []))
        if safe(message) not in texts:
            texts.append(safe(message))
    for (when, code), (at, texts) in marks.items():
        color = "#1a7f37" if code == "resolved" else "#c62828"
        parts.append(f'<path d="M{x(at):.1f} {height - 1} l-3 -5 h6 z" fill="{color}"><title>'
                     f'{when} [{escape(code)}] {escape("; ".join(texts))}</title></path>')
    parts.append("</svg>")
    return "".join(parts)


def senders_cell(summary: dict | None) -> dict | None:
    """The senders of the stored DMARC reports, for the page: messages, platforms with their status and what
    receivers did, and the volume per day as bars (the part from platforms that fail SPF in red)."""
    if not summary:
        return None
    platforms = summary.get("platforms", {})
    failing = {n for n, p in platforms.items() if p.get("status") in ("unauthorised", "dkim-only")}
    daily = summary.get("daily", {})
    width, height, pad = 260, 40, 2
    top = max([d.get("*", 0) for d in daily.values()] + [1])
    step = (width - 2 * pad) / max(len(daily), 1)
    bars = []
    for i, (day, counts) in enumerate(daily.items()):
        total, bad = counts.get("*", 0), sum(counts.get(n, 0) for n in failing)
        x, h = pad + i * step, (height - 2 * pad) * total / top
        detail = ", ".join(f"{safe(n)} {v}" for n, v in sorted(counts.items()) if n != "*")
        bars.append(f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
                    f'fill="#3457d5"><title>{escape(day)}: {total} message(s){escape("; " + detail) if detail else ""}'
                    "</title></rect>")
        if bad:
            hb = (height - 2 * pad) * bad / top
            bars.append(f'<rect x="{x:.1f}" y="{height - pad - hb:.1f}" width="{max(step - 1, 1):.1f}" '
                        f'height="{hb:.1f}" fill="#c62828"><title>{escape(day)}: {bad} message(s) SPF does not pass'
                        "</title></rect>")
    svg = f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="messages per day">{"".join(bars)}</svg>'
    return {"days": summary.get("days"), "messages": summary.get("messages", 0), "svg": svg,
            "spoofing": summary.get("spoofing", 0),
            "dispositions": ", ".join(f"{safe(k)} {v}" for k, v in sorted(summary.get("dispositions", {}).items())),
            "platforms": [{"name": safe(n), "status": p.get("status", ""), "messages": p.get("messages", 0),
                           "include": safe(p.get("include", "")),
                           "dispositions": ", ".join(f"{safe(k)} {v}" for k, v in sorted(
                               p.get("dispositions", {}).items()))}
                          for n, p in sorted(platforms.items(), key=lambda item: -item[1].get("messages", 0))]}


class FleetHtml(Renderer):
    """``monitor report``: the fleet as one self-contained page."""

    def render(self, result: Fleet) -> str:
        return fleet_page(result)


def fleet_page(fleet: Fleet) -> str:
    rows: list[dict] = []
    codes: Counter[str] = Counter()
    for domain, domain_tenant, snapshot in fleet.latest:
        worst = max((f.severity for f in snapshot.findings), key=severity_rank, default="")
        found = sorted(snapshot.codes())
        codes.update(found)
        rows.append({"domain": domain, "tenant": domain_tenant or "", "verdict": snapshot_verdict(snapshot),
                     "severity": worst, "rank": severity_rank(worst) if worst else -1,
                     "lookups": snapshot.lookups, "voids4": snapshot.void_lookups,
                     "voids6": snapshot.void_lookups_ipv6, "codes": found,
                     "timeline": timeline_svg(fleet.timelines.get(domain, []), fleet.events.get(domain, [])),
                     "senders": senders_cell(snapshot.senders)})
    tenant = fleet.tenant
    title = f"SPF fleet report{f': {tenant}' if tenant else ''}"
    return render_page("fleet.html.j2", title, f"{len(rows)} domains, from the monitor's store", rows=rows,
                       tenant=tenant, tenants=sorted({r["tenant"] for r in rows}),
                       verdicts=sorted({r["verdict"] for r in rows}), codes=codes.most_common(),
                       failing=sum(r["verdict"] == "could not check" for r in rows),
                       with_senders=[r for r in rows if r["senders"]],
                       problems=sum(r["severity"] == "error" for r in rows))
