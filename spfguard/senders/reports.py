"""DMARC aggregate reports (RFC 7489 appendix C) read through parsedmarc's parser: plain XML, ``.xml.gz``,
``.zip`` and whole ``.eml`` messages, from files or folders. parsedmarc runs offline (no DNS, no downloads: its
bundled IP-to-ASN data only); spfguard does its own DNS."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from spfguard.errors import UserError, first_line

SUFFIXES = (".xml", ".gz", ".zip", ".eml", ".msg", ".json")  # what a folder is searched for
MAX_FILE_BYTES = 64 * 1024 * 1024  # a report is kilobytes; a bigger file is not one


@dataclass(frozen=True)
class Row:
    """One ``<record>`` of a report: messages from one source IP with one outcome."""

    ip: str
    count: int
    spf: str  # the SPF result the receiver saw for the envelope sender (auth_results, scope mfrom)
    dkim: str  # DKIM as DMARC evaluated it (pass when a signature aligned)
    dmarc: bool  # the messages passed DMARC (aligned SPF or aligned DKIM)
    header_from: str
    asn: int | None = None
    as_name: str | None = None


@dataclass(frozen=True)
class AggregateReport:
    org: str
    report_id: str
    domain: str  # the policy domain (policy_published)
    begin: str  # "YYYY-MM-DD HH:MM:SS", as parsedmarc gives it
    end: str
    rows: tuple[Row, ...]


@dataclass
class Reading:
    reports: list[AggregateReport] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    duplicates: int = 0


def report_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders searched (recursively) for report files; a path that does not exist is an error."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise UserError(f"--dmarc-reports: {path} is not a file or a folder")
        else:
            raise UserError(f"--dmarc-reports: {path} does not exist")
    return files


def _parser():
    try:
        import parsedmarc
    except ImportError:
        raise UserError("reading DMARC reports needs parsedmarc: `pipx inject spfguard parsedmarc` (or "
                        "`pip install 'spfguard[dmarc]'`)") from None
    return parsedmarc


def read_reports(paths: Iterable[str | os.PathLike], domain: str) -> Reading:
    """The aggregate reports about ``domain`` in ``paths``. A file that is not one (a failure report, a TLS
    report, anything else) or is about another domain is skipped with the reason; the same report received twice
    (say as the XML and as the message that carried it) is counted once."""
    parsedmarc = _parser()
    reading, seen = Reading(), set()
    for path in report_files(paths):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                reading.skipped.append((str(path), f"larger than {MAX_FILE_BYTES // 2**20} MiB: not a report"))
                continue
            parsed = parsedmarc.parse_report_file(str(path), offline=True, always_use_local_files=True)
        except OSError as err:
            reading.skipped.append((str(path), err.strerror or str(err)))
            continue
        except Exception as err:  # noqa: BLE001 - parsedmarc raises many kinds for a file that is not a report
            reading.skipped.append((str(path), first_line(err, "not a DMARC report")))
            continue
        if parsed.get("report_type") != "aggregate":
            reading.skipped.append((str(path), f"a {parsed.get('report_type', 'other')} report, not an aggregate "
                                               "report"))
            continue
        report = _report(parsed["report"])
        if report.domain != domain:
            reading.skipped.append((str(path), f"a report about {report.domain}"))
            continue
        key = (report.org.lower(), report.report_id)
        if key in seen:
            reading.duplicates += 1
            continue
        seen.add(key)
        reading.reports.append(report)
    return reading


def _report(data: dict) -> AggregateReport:
    meta, policy = data.get("report_metadata", {}), data.get("policy_published", {})
    rows = []
    for record in data.get("records", []):
        source = record.get("source", {})
        try:  # a report with a malformed source address: that row says nothing usable
            ip = str(ipaddress.ip_address(str(source.get("ip_address", "")).strip()))
        except ValueError:
            continue
        evaluated = record.get("policy_evaluated", {})
        spf_results = [r for r in record.get("auth_results", {}).get("spf", []) if r.get("scope", "mfrom") == "mfrom"]
        spf = str(spf_results[0].get("result") if spf_results else evaluated.get("spf") or "none").lower()
        rows.append(Row(ip, max(0, int(record.get("count") or 0)), spf,
                        str(evaluated.get("dkim") or "none").lower(),
                        bool(record.get("alignment", {}).get("dmarc")),
                        str(record.get("identifiers", {}).get("header_from") or "").lower().rstrip("."),
                        source.get("asn"), source.get("as_name")))
    return AggregateReport(str(meta.get("org_name") or "?"), str(meta.get("report_id") or ""),
                  str(policy.get("domain") or "").lower().rstrip("."), str(meta.get("begin_date") or ""),
                  str(meta.get("end_date") or ""), tuple(rows))

