"""Renderers of ``spfguard senders``: text (the default), JSON (versioned: ``spfguard/schema/senders.schema.json``),
CSV (one row per source) and one self-contained HTML page."""

from __future__ import annotations

import json

from tabulate import tabulate

from spfguard.report import Renderer
from spfguard.report.csvout import csv_line
from spfguard.senders.analysis import Senders, Source
from spfguard.textsafe import safe

STATUS_TEXT = {"authorised": "authorised", "unauthorised": "NOT AUTHORISED", "dkim-only": "SPF fails, DKIM passes",
               "unused": "unused"}


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


def _did(counter) -> str:
    """What receivers did: "none 40, quarantine 2" (and why they overrode the policy, when they said)."""
    return _seen(counter)


def _as(source: Source) -> str:
    return f"  AS{source.asn} {safe(source.as_name)}" if source.asn else ""


def render_text(senders: Senders, suggest: tuple[str, str] | None = None) -> str:
    period = senders.period
    out = [f"{senders.domain}: {period['messages']:,} messages in {period['reports']} aggregate report(s) from "
           f"{', '.join(safe(r) for r in period['reporters'])}, {period['begin']} – {period['end']}"]
    out.append(f"  receivers did: {_did(senders.dispositions)}")
    rows = []
    for use in senders.platforms:
        first = True
        for source in _or_none(use.sources):
            rows.append([use.platform if first else "", STATUS_TEXT[use.status] if first else "",
                         source.source if source else "–", f"{source.messages:,}" if source else "0",
                         _seen(source.spf_seen) if source else "", _result(source) if source else "",
                         _did(source.dispositions) if source else ""])
            first = False
    if rows:
        out.append(tabulate(rows, headers=["platform", "status", "source", "messages", "receivers saw SPF",
                                           "check_host today", "receivers did"]))
    for use in senders.with_status("unauthorised"):
        out.append(f"  ✗ {use.display} ({use.platform}) sends {use.messages:,} message(s) the record does not "
                   f"authorise, and DMARC failed for them: add include:{use.include}")
    for use in senders.with_status("dkim-only"):
        out.append(f"  ! {use.display} ({use.platform}) sends {use.messages:,} message(s) that SPF does not pass; "
                   f"DMARC passes them by DKIM. include:{use.include} would make SPF pass too")
    for use in senders.with_status("unused"):
        out.append(f"  ? {use.display} ({use.platform}) is included but sent nothing in the period: a candidate to "
                   f"remove (include:{use.include}; never removed automatically)")
    authorised = [s for s in senders.unknown if s.passes]
    forwarded = [s for s in senders.unknown if not s.passes and not s.spoofing]
    if authorised:
        out.append("senders the record authorises that no platform of the catalogue claims:")
        out += [f"  {s.source}  {s.messages:,} message(s)  by {safe(s.via or '?')}  {_ptr(s)}{_as(s)}"
                for s in authorised]
    if forwarded:
        out.append("mail SPF does not pass but DMARC does (forwarded, or signed with DKIM elsewhere):")
        out += [f"  {s.source}  {s.messages:,} message(s)  DKIM: {_seen(s.dkim_seen)}  DMARC pass: {s.dmarc_pass:,}"
                f"  {_ptr(s)}{_as(s)}" for s in forwarded]
    if senders.spoofing:
        out.append("unknown sources the record does not authorise, failing DMARC (possible spoofing):")
        out += [f"  {s.source}  {s.messages:,} message(s)  SPF seen: {_seen(s.spf_seen)}  check_host today: "
                f"{_result(s)}  receivers did: {_did(s.dispositions)}  {_ptr(s)}{_as(s)}" for s in senders.spoofing]
    if senders.other_envelopes:
        out.append("not SPF-aligned — another envelope domain, so DKIM decides DMARC (no include of yours changes it):")
        out += [f"  {safe(s.envelope)}  {s.label}  {s.messages:,} message(s)"
                f"{f' ({s.platform})' if s.platform else ''}  DKIM: {_seen(s.dkim_seen)}  DMARC pass: "
                f"{s.dmarc_pass:,}{'  forwarded: ' + format(s.forwarded, ',') if s.forwarded else ''}  receivers did: "
                f"{_did(s.dispositions)}" for s in senders.other_envelopes]
    if senders.other_from:
        out.append("rows about another From domain (in the same reports):")
        out += [f"  From {safe(s.envelope)}  {s.source}  {s.messages:,} message(s)  DMARC pass: {s.dmarc_pass:,}"
                for s in senders.other_from]
    for path, why in senders.skipped:
        out.append(f"skipped {safe(path)}: {safe(why)}")
    for where, why in senders.skipped_rows:
        out.append(f"skipped {safe(where)}: {safe(why)}")
    if senders.ptr_limited:
        out.append(f"(reverse DNS looked up for the busiest unknown sources only; {senders.ptr_limited:,} not)")
    if senders.unresolved:
        out.append(f"not attributed by ranges (their SPF chain could not be resolved): "
                   f"{', '.join(f'{name} ({safe(why)})' for name, why in senders.unresolved[:5])}"
                   f"{' …' if len(senders.unresolved) > 5 else ''}")
    if suggest:
        for use in senders.unproven():
            out.append(f"not suggested: {use.platform} — one reporter's word only and no DKIM-aligned mail from it "
                       "(reports can be forged)")
        for use in senders.with_status("unauthorised", "dkim-only"):
            if use.evidence:
                out.append(f"suggested: include:{use.include} for {use.platform} ({use.evidence})")
        out.append(f"suggested --expect {suggest[0]}")
        out.append(f"  {suggest[1]}")
    return "\n".join(out) + "\n"


def render_json(senders: Senders, suggest: tuple[str, str] | None = None) -> str:
    data = senders.to_json()
    if suggest:
        data["suggest"] = {"expect": suggest[0].split(",") if suggest[0] else [], "fix": suggest[1]}
    return json.dumps(data, indent=2) + "\n"


CSV_COLUMNS = ("domain", "section", "platform", "status", "include", "source", "envelope", "messages", "spf_seen",
               "dkim_seen", "dmarc_pass", "check_host", "dispositions", "ptr")


def render_csv(senders: Senders) -> str:
    """One row per source, every message in exactly one row; cells neutralised by :func:`csv_line` (PTR names and
    envelope domains come from strangers)."""
    rows = [csv_line(list(CSV_COLUMNS))]
    for use in senders.platforms:
        for source in _or_none(use.sources):
            rows.append(csv_line([senders.domain, "platform", use.platform, use.status, use.include,
                                  source.source if source else "", source.envelope if source else "",
                                  source.messages if source else 0, _seen(source.spf_seen) if source else "",
                                  _seen(source.dkim_seen) if source else "", source.dmarc_pass if source else 0,
                                  _result(source) if source else "", _did(source.dispositions) if source else "",
                                  ""]))
    for source in senders.unknown:
        status = "authorised" if source.passes else "spoofing" if source.spoofing else "forwarded"
        rows.append(csv_line([senders.domain, "unknown", "", status, "", source.source, source.envelope,
                              source.messages, _seen(source.spf_seen), _seen(source.dkim_seen), source.dmarc_pass,
                              _result(source), _did(source.dispositions), source.ptr or ""]))
    for section, sources in (("not-spf-aligned", senders.other_envelopes), ("other-from", senders.other_from)):
        for source in sources:
            rows.append(csv_line([senders.domain, section, source.platform or "", "", "", source.label,
                                  source.envelope, source.messages, _seen(source.spf_seen), _seen(source.dkim_seen),
                                  source.dmarc_pass, "", _did(source.dispositions), ""]))
    return "".join(rows)


def render_html(senders: Senders, suggest: tuple[str, str] | None = None) -> str:
    from spfguard.report.html import render_page

    period = senders.period

    def source_view(s: Source) -> dict:
        return {"source": s.label, "messages": s.messages, "spf": _seen(s.spf_seen), "dkim": _seen(s.dkim_seen),
                "result": _result(s), "envelope": safe(s.envelope), "did": _did(s.dispositions),
                "dmarc_pass": s.dmarc_pass, "platform": s.platform or ""}

    view = {
        "domain": senders.domain, "record": safe(senders.record) if senders.record else None, "period": period,
        "reporters": ", ".join(safe(r) for r in period["reporters"]), "did": _did(senders.dispositions),
        "platforms": [{"platform": u.platform, "display": u.display, "status": u.status, "include": u.include,
                       "messages": u.messages, "sources": [source_view(s) for s in u.sources]}
                      for u in senders.platforms],
        "unknown": [{**source_view(s), "passes": s.passes, "spoofing": s.spoofing,
                     "ptr": _ptr(s).removeprefix("PTR "), "asn": f"AS{s.asn} {safe(s.as_name or '')}" if s.asn
                     else "–"} for s in senders.unknown],
        "other_envelopes": [source_view(s) for s in senders.other_envelopes],
        "other_from": [source_view(s) for s in senders.other_from],
        "skipped": [(safe(f), safe(w)) for f, w in senders.skipped + senders.skipped_rows], "suggest": suggest,
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
