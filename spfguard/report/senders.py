"""Renderers of ``spfguard senders``: text (the default), JSON (versioned: ``spfguard/schema/senders.schema.json``),
CSV (one row per source) and one self-contained HTML page."""

from __future__ import annotations

import csv
import io
import json

from tabulate import tabulate

from spfguard.report import Renderer
from spfguard.senders.analysis import Senders, Source
from spfguard.textsafe import safe

STATUS_TEXT = {"authorised": "authorised", "unauthorised": "NOT AUTHORISED", "unused": "unused"}


def _or_none(sources: list[Source]) -> list[Source | None]:
    """A platform's sources, or one empty row for a platform that sent nothing."""
    return list(sources) or [None]


def _seen(counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1])) or "–"


def _ptr(source: Source) -> str:
    if not source.ptr:
        return "PTR –"
    org = f" ({safe(source.ptr_org)})" if source.ptr_org and source.ptr_org != source.ptr else ""
    return f"PTR {safe(source.ptr)}{org}"


def _result(source: Source) -> str:
    result = source.result
    return result if isinstance(result, str) else ", ".join(f"{k} ×{v}" for k, v in result.items())


def render_text(senders: Senders, suggest: tuple[str, str] | None = None) -> str:
    period = senders.period
    out = [f"{senders.domain}: {period['messages']:,} messages in {period['reports']} aggregate report(s) from "
           f"{', '.join(safe(r) for r in period['reporters'])}, {period['begin']} – {period['end']}"]
    if senders.duplicates:
        out.append(f"  ({senders.duplicates} report(s) received twice, counted once)")
    rows = []
    for use in senders.platforms:
        first = True
        for source in _or_none(use.sources):
            rows.append([use.platform if first else "", STATUS_TEXT[use.status] if first else "",
                         source.source if source else "–", f"{source.messages:,}" if source else "0",
                         _seen(source.spf_seen) if source else "", _result(source) if source else ""])
            first = False
    if rows:
        out.append(tabulate(rows, headers=["platform", "status", "source", "messages", "receivers saw SPF",
                                           "check_host today"]))
    for use in senders.with_status("unauthorised"):
        out.append(f"  ✗ {use.display} ({use.platform}) sends {use.messages:,} message(s) the record does not "
                   f"authorise: add include:{use.include}")
    for use in senders.with_status("unused"):
        out.append(f"  ? {use.display} ({use.platform}) is included but sent nothing in the period: a candidate to "
                   f"remove (include:{use.include}; never removed automatically)")
    authorised = [s for s in senders.unknown if s.passes]
    spoofing = [s for s in senders.unknown if not s.passes]
    if authorised:
        out.append("senders the record authorises that no platform of the catalogue claims:")
        out += [f"  {s.source}  {s.messages:,} message(s)  by {safe(s.via or '?')}  {_ptr(s)}"
                f"{f'  AS{s.asn} {safe(s.as_name)}' if s.asn else ''}" for s in authorised]
    if spoofing:
        out.append("unknown sources the record does not authorise (possible spoofing):")
        out += [f"  {s.source}  {s.messages:,} message(s)  SPF seen: {_seen(s.spf_seen)}  check_host today: "
                f"{_result(s)}  {_ptr(s)}{f'  AS{s.asn} {safe(s.as_name)}' if s.asn else ''}" for s in spoofing]
    for path, why in senders.skipped:
        out.append(f"skipped {safe(path)}: {safe(why)}")
    if senders.unresolved:
        out.append(f"not attributed by ranges (their SPF chain could not be resolved): "
                   f"{', '.join(f'{name} ({safe(why)})' for name, why in senders.unresolved[:5])}"
                   f"{' …' if len(senders.unresolved) > 5 else ''}")
    if suggest:
        out.append(f"suggested --expect {suggest[0]}")
        out.append(f"  {suggest[1]}")
    return "\n".join(out) + "\n"


def render_json(senders: Senders, suggest: tuple[str, str] | None = None) -> str:
    data = senders.to_json()
    if suggest:
        data["suggest"] = {"expect": suggest[0].split(",") if suggest[0] else [], "fix": suggest[1]}
    return json.dumps(data, indent=2) + "\n"


CSV_COLUMNS = ("domain", "platform", "status", "include", "source", "messages", "spf_seen", "dkim_seen", "dmarc_pass",
               "check_host", "ptr")


def render_csv(senders: Senders) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for use in senders.platforms:
        for source in _or_none(use.sources):
            writer.writerow([senders.domain, use.platform, use.status, use.include, source.source if source else "",
                             source.messages if source else 0, _seen(source.spf_seen) if source else "",
                             _seen(source.dkim_seen) if source else "", source.dmarc_pass if source else 0,
                             _result(source) if source else "", ""])
    for source in senders.unknown:
        writer.writerow([senders.domain, "", "unknown", "", source.source, source.messages, _seen(source.spf_seen),
                         _seen(source.dkim_seen), source.dmarc_pass, _result(source), safe(source.ptr or "")])
    return buffer.getvalue()


def render_html(senders: Senders, suggest: tuple[str, str] | None = None) -> str:
    from spfguard.report.html import render_page

    period = senders.period
    view = {
        "domain": senders.domain, "record": safe(senders.record) if senders.record else None, "period": period,
        "reporters": ", ".join(safe(r) for r in period["reporters"]),
        "platforms": [{"platform": u.platform, "display": u.display, "status": u.status, "include": u.include,
                       "messages": u.messages, "sources": [{"source": s.source, "messages": s.messages,
                                                            "spf": _seen(s.spf_seen), "dkim": _seen(s.dkim_seen),
                                                            "result": _result(s)} for s in u.sources]}
                      for u in senders.platforms],
        "unknown": [{"source": s.source, "messages": s.messages, "spf": _seen(s.spf_seen), "result": _result(s),
                     "passes": s.passes, "ptr": _ptr(s).removeprefix("PTR "),
                     "asn": f"AS{s.asn} {safe(s.as_name or '')}" if s.asn else "–"} for s in senders.unknown],
        "skipped": [(safe(f), safe(w)) for f, w in senders.skipped], "suggest": suggest,
    }
    return render_page("senders.html.j2", f"Who sends as {senders.domain}",
                       f"{period['messages']:,} messages in {period['reports']} DMARC aggregate report(s), "
                       f"{period['begin']} – {period['end']}", s=view)


class SendersText(Renderer):
    def render(self, result) -> str:
        return render_text(result.senders, result.suggest)


class SendersJson(Renderer):
    def render(self, result) -> str:
        return render_json(result.senders, result.suggest)


class SendersCsv(Renderer):
    def render(self, result) -> str:
        return render_csv(result.senders)


class SendersHtml(Renderer):
    def render(self, result) -> str:
        return render_html(result.senders, result.suggest)
