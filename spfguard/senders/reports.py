"""DMARC aggregate reports (RFC 7489 appendix C, and RFC 9990's DMARCbis reports) read through parsedmarc's
parser: plain XML, ``.xml.gz``, ``.zip`` (every report in it) and whole ``.eml`` messages, from files, folders or
bytes (a mailbox). parsedmarc runs offline (no DNS, no downloads: its bundled IP-to-ASN data only); spfguard does
its own DNS.

Reports are evidence from strangers: every row is checked (a source address, a count of at most 2³², the
results) and a bad row is counted and listed under ``skipped`` with its file — never dropped in silence; a file
the parser rejects whole (one empty ``source_ip``, a report gzipped twice) is read again row by row when its XML
is well-formed, so its good rows count; every file of a folder is read or listed with the reason it was not.
The same report received twice — the same reporter, report id, period and policy domain — is counted once."""

from __future__ import annotations

import gzip
import io
import ipaddress
import os
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from spfguard.errors import UserError, first_line

MAX_FILE_BYTES = 64 * 1024 * 1024  # a report is kilobytes; a bigger file is not one
MAX_INFLATED = 100 * 1024 * 1024  # what a compressed report may grow to
MAX_COUNT = 2**32  # messages in one row: a receiver's counter, never more
MAX_MEMBERS = 1000  # reports in one zip
LARGE_REPORT = 5000  # records from which a report is read directly rather than through parsedmarc


@dataclass(frozen=True, slots=True)
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
    envelope: str = ""  # the domain SPF was checked for: the MAIL FROM domain (auth_results spf domain)
    spf_aligned: bool = False
    dkim_aligned: bool = False
    disposition: str = "none"  # what the receiver did: none, quarantine, reject
    reasons: tuple[str, ...] = ()  # policy override reasons (forwarded, mailing_list, local_policy …)


def row_to_json(row: Row) -> list:
    """A row as stored (a list: a report can hold a hundred thousand)."""
    return [row.ip, row.count, row.spf, row.dkim, row.dmarc, row.header_from, row.asn, row.as_name, row.envelope,
            row.spf_aligned, row.dkim_aligned, row.disposition, list(row.reasons)]


def row_from_json(data: list) -> Row:
    ip, count, spf, dkim, dmarc, header_from, asn, as_name, envelope, spf_aligned, dkim_aligned, disposition, \
        reasons = data
    return Row(ip, int(count), sys.intern(spf), sys.intern(dkim), bool(dmarc), sys.intern(header_from), asn, as_name,
               sys.intern(envelope), bool(spf_aligned), bool(dkim_aligned), sys.intern(disposition),
               tuple(reasons))


@dataclass(frozen=True)
class AggregateReport:
    org: str
    report_id: str
    domain: str  # the policy domain (policy_published)
    begin: str  # "YYYY-MM-DD HH:MM:SS", as parsedmarc gives it
    end: str
    rows: tuple[Row, ...]
    source: str = ""  # the file (or mailbox message) it came from

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """What makes two copies the same report: reporter, report id, period and policy domain."""
        return self.org.lower(), self.report_id, self.begin, self.end, self.domain


@dataclass
class Reading:
    reports: list[AggregateReport] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    skipped_rows: list[tuple[str, str]] = field(default_factory=list)  # (file and row, why)
    duplicates: int = 0

    def add(self, report: AggregateReport, seen: dict) -> None:
        if report.key in seen:
            self.duplicates += 1
            self.skipped.append((report.source, f"the same report as {seen[report.key]} (counted once)"))
            return
        seen[report.key] = report.source
        self.reports.append(report)


def report_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders searched (recursively; hidden files left out); a path that does not exist is an
    error."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
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


def read_reports(paths: Iterable[str | os.PathLike], domain: str | None) -> Reading:
    """The aggregate reports in ``paths`` about ``domain`` (any domain when None). A file that is not one (a failure
    report, a TLS report, anything else) or is about another domain is listed with the reason."""
    reading, seen = Reading(), dict[tuple[str, str, str, str, str], str]()
    for path in report_files(paths):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                reading.skipped.append((str(path), f"larger than {MAX_FILE_BYTES // 2**20} MiB: not a report"))
                continue
            data = path.read_bytes()
        except OSError as err:
            reading.skipped.append((str(path), err.strerror or str(err)))
            continue
        read_document(data, str(path), domain, reading, seen)
    return reading


def read_document(data: bytes, label: str, domain: str | None, reading: Reading, seen: dict) -> None:
    """One file or message: its reports added to ``reading`` (a zip: every report in it)."""
    if data[:4] == b"PK\x03\x04":
        for name, member in _zip_members(data, label, reading):
            _read_one(member, f"{label}:{name}", domain, reading, seen)
        return
    _read_one(data, label, domain, reading, seen)


def _zip_members(data: bytes, label: str, reading: Reading) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.filename.endswith("/")][:MAX_MEMBERS]
    except (zipfile.BadZipFile, OSError) as err:
        reading.skipped.append((label, f"not a readable zip ({first_line(err)})"))
        return
    for member in members:
        if member.file_size > MAX_INFLATED:
            reading.skipped.append((f"{label}:{member.filename or '(no name)'}", "inflates past 100 MiB: not a report"))
            continue
        try:
            with archive.open(member) as fh:
                yield member.filename, fh.read(MAX_INFLATED + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as err:  # encrypted, corrupt …
            reading.skipped.append((f"{label}:{member.filename}", f"cannot be read ({first_line(err)})"))


def _read_one(data: bytes, label: str, domain: str | None, reading: Reading, seen: dict) -> None:
    parsedmarc = _parser()
    xml = _inflated(data)
    if xml is not None and xml.count(b"<record") > LARGE_REPORT:
        # parsedmarc looks every source up in its address database (a quarter of a millisecond each): a report of
        # a hundred thousand sources is read directly instead (no AS names then)
        report = _rows_one_by_one(xml, label, reading)
        if report is not None:
            if domain is not None and report.domain != domain:
                reading.skipped.append((label, f"a report about {report.domain}"))
            else:
                reading.add(report, seen)
            return
    try:
        parsed = parsedmarc.parse_report_file(data, offline=True, always_use_local_files=True)
    except Exception as err:  # noqa: BLE001 - parsedmarc raises many kinds for a file that is not (quite) a report
        xml = _inflated(data)
        report = _rows_one_by_one(xml, label, reading) if xml is not None else None
        if report is None:
            reading.skipped.append((label, first_line(err, "not a DMARC report")))
            return
    else:
        if parsed.get("report_type") != "aggregate":
            reading.skipped.append((label, f"a {parsed.get('report_type', 'other')} report, not an aggregate "
                                           "report"))
            return
        report = _report(parsed["report"], label, reading)
        _rows_parsedmarc_dropped(data, report, label, reading)
    if domain is not None and report.domain != domain:
        reading.skipped.append((label, f"a report about {report.domain}"))
        return
    reading.add(report, seen)


def _rows_parsedmarc_dropped(data: bytes, report: AggregateReport, label: str, reading: Reading) -> None:
    """parsedmarc leaves out a record it cannot use (a malformed source address) without a word: when the XML
    holds more records than it returned, read them ourselves to list the ones left out, with their reason."""
    xml = _inflated(data)
    if xml is None or xml.count(b"<record>") <= len(report.rows) + sum(1 for w, _ in reading.skipped_rows
                                                                         if w.startswith(f"{label} row ")):
        return
    mine = Reading()
    _rows_one_by_one(xml, label, mine)
    reading.skipped_rows += mine.skipped_rows


def _inflated(data: bytes) -> bytes | None:
    """The XML inside up to three layers of gzip (a report gzipped twice is common), bounded; None if there is
    none."""
    for _ in range(4):
        if data[:2] != b"\x1f\x8b":
            break
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
                data = fh.read(MAX_INFLATED + 1)
        except (OSError, EOFError):
            return None
        if len(data) > MAX_INFLATED:
            return None
    start = data.lstrip()[:100]
    return data if start.startswith(b"<") and b"feedback" in data[:4096] else None


def _text(element, path: str) -> str:
    found = element.find(path) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _record(record) -> dict:
    """One ``<record>`` element in parsedmarc's shape."""
    spf = [{"domain": _text(r, "domain"), "scope": _text(r, "scope") or "mfrom", "result": _text(r, "result")}
           for r in record.findall("auth_results/spf")]
    return {
        "source": {"ip_address": _text(record, "row/source_ip")},
        "count": _text(record, "row/count"),
        "policy_evaluated": {"disposition": _text(record, "row/policy_evaluated/disposition"),
                             "dkim": _text(record, "row/policy_evaluated/dkim"),
                             "spf": _text(record, "row/policy_evaluated/spf"),
                             "policy_override_reasons": [{"type": _text(r, "type")} for r in
                                                         record.findall("row/policy_evaluated/reason")]},
        "identifiers": {"header_from": _text(record, "identifiers/header_from"),
                        "envelope_from": _text(record, "identifiers/envelope_from")},
        "auth_results": {"spf": spf},
    }


def _rows_one_by_one(xml: bytes, label: str, reading: Reading) -> AggregateReport | None:
    """A report read record by record (its XML must be well-formed and have no DTD: entities are never
    expanded): good rows kept, bad ones listed — for a report parsedmarc refused whole, and for very large ones
    (streamed: each record is let go once read, so memory does not grow with the XML)."""
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:  # a report has no DTD: entities are an attack, never read
        return None
    meta: dict[str, str] = {}
    domain = None
    rows: list[Row] = []
    index = 0
    try:
        for _, element in ElementTree.iterparse(io.BytesIO(xml), events=("end",)):
            element.tag = element.tag.rsplit("}", 1)[-1]  # RFC 9990's urn:ietf:params:xml:ns:dmarc-2.0 dropped
            if element.tag == "record":
                for child in element.iter():
                    child.tag = child.tag.rsplit("}", 1)[-1]
                index += 1
                row = _row(_record(element))
                if isinstance(row, str):
                    reading.skipped_rows.append((f"{label} row {index}", row))
                else:
                    rows.append(row)
                element.clear()
            elif element.tag == "report_metadata":
                for child in element.iter():
                    child.tag = child.tag.rsplit("}", 1)[-1]
                meta = {"org_name": _text(element, "org_name"), "report_id": _text(element, "report_id"),
                        "begin": _timestamp(_text(element, "date_range/begin")),
                        "end": _timestamp(_text(element, "date_range/end"))}
            elif element.tag == "policy_published":
                for child in element.iter():
                    child.tag = child.tag.rsplit("}", 1)[-1]
                domain = _text(element, "domain")
    except ElementTree.ParseError:
        return None
    if not domain:
        return None
    return AggregateReport(meta.get("org_name") or "?", meta.get("report_id", ""), domain.lower().rstrip("."),
                           meta.get("begin", ""), meta.get("end", ""), tuple(rows), label)


def _timestamp(text: str) -> str:
    """A report's Unix time as parsedmarc writes it ("YYYY-MM-DD HH:MM:SS", UTC)."""
    import datetime

    try:
        return datetime.datetime.fromtimestamp(int(text), datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return text


def _row(record: dict) -> Row | str:
    """A checked row, or why it is not one."""
    source = record.get("source") or {}
    text = str(source.get("ip_address") or "").strip()
    if "%" in text:
        return f"source address {text[:60]!r} has a zone id (it means something on one host only)"
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return f"source address {text[:60]!r} is not an IP address"
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:209.85.128.5 is the IPv4 client it stands for
    ip = str(mapped or address)
    try:
        count = int(str(record.get("count") if record.get("count") is not None else 0).strip())
    except ValueError:
        return f"count {str(record.get('count'))[:30]!r} is not a number"
    if not 0 <= count <= MAX_COUNT:
        return f"count {count} is out of range (0 to 2^32)"
    evaluated = record.get("policy_evaluated") or {}
    auth = record.get("auth_results") or {}
    spf_results = [r for r in auth.get("spf") or [] if (r.get("scope") or "mfrom") == "mfrom"]
    identifiers = record.get("identifiers") or {}
    header_from = str(identifiers.get("header_from") or "").lower().rstrip(".")
    envelope = str((spf_results[0].get("domain") if spf_results else None) or identifiers.get("envelope_from")
                   or header_from).lower().rstrip(".")
    alignment = record.get("alignment") or {}
    dkim = str(evaluated.get("dkim") or "none").lower()
    spf_seen = str(evaluated.get("spf") or "none").lower()
    # the same few words recur in every row: one copy of each (a hundred thousand rows stay small)
    return Row(ip, count, sys.intern(str(spf_results[0].get("result") if spf_results else spf_seen).lower()),
               sys.intern(dkim), bool(alignment.get("dmarc")) if alignment else (dkim == "pass" or spf_seen == "pass"),
               sys.intern(header_from), source.get("asn"), source.get("as_name"), sys.intern(envelope),
               bool(alignment.get("spf")) if alignment else spf_seen == "pass",
               bool(alignment.get("dkim")) if alignment else dkim == "pass",
               sys.intern(str(evaluated.get("disposition") or "none").lower()),
               tuple(sys.intern(str(r.get("type") or "").lower()) for r in evaluated.get("policy_override_reasons")
                     or [] if r.get("type")))


def _report(data: dict, label: str, reading: Reading) -> AggregateReport:
    meta, policy = data.get("report_metadata") or {}, data.get("policy_published") or {}
    rows = []
    for index, record in enumerate(data.get("records") or [], start=1):
        row = _row(record)
        if isinstance(row, str):
            reading.skipped_rows.append((f"{label} row {index}", row))
        else:
            rows.append(row)
    return AggregateReport(str(meta.get("org_name") or "?"), str(meta.get("report_id") or ""),
                           str(policy.get("domain") or "").lower().rstrip("."), str(meta.get("begin_date") or ""),
                           str(meta.get("end_date") or ""), tuple(rows), label)
