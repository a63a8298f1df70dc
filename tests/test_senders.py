"""Issue #16: who really sends — DMARC aggregate reports (XML, .xml.gz, .zip, .eml; two reporting organisations for
the same period) read through parsedmarc, each source attributed to a platform, the platforms classified, and the
suggested fix command run to show its plan authorises the sender that was missing."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import shlex
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from spfguard.cli.main import main
from spfguard.dns.overlay import OverlayDns
from spfguard.dns.zonefile import ZoneFileDns
from spfguard.errors import UserError
from spfguard.ipset import IPSet
from spfguard.senders.analysis import Attributor, classify, included_platforms
from spfguard.senders.reports import AggregateReport, Row, read_reports
from spfguard.spf.evaluator import check_host_async
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.coverage import SenderSet
from tests.conftest import DEMO_ZONES, ROOT
from tests.support.dmarc_reports import DAY, START, as_eml, report_xml

pytest.importorskip("parsedmarc", reason="parsedmarc is a test extra: pip install '.[test]'")
DMARC = ROOT / "fixtures" / "dmarc"


def sender_set(name: str, *networks: str) -> SenderSet:
    v4 = IPSet.of(4, [n for n in networks if ":" not in n])
    v6 = IPSet.of(6, [n for n in networks if ":" in n])
    return SenderSet(load_catalogue().get(name), v4, v6)


# ---- attribution and classification (pure) --------------------------------------------------------------

def test_attribution_prefers_the_included_platform_then_the_smallest_set():
    sets = [sender_set("mimecast", "198.18.0.0/16"), sender_set("mimecast-us", "198.18.7.0/24"),
            sender_set("sendgrid", "198.18.2.0/24", "2001:db8:2::/48")]
    attribute = Attributor(sets, included=set())
    assert attribute("198.18.7.9") == ("mimecast-us", __import__("ipaddress").ip_network("198.18.7.0/24"))
    assert attribute("198.18.9.9")[0] == "mimecast"  # only the all-regions set holds it
    assert attribute("2001:db8:2::25")[0] == "sendgrid"
    assert attribute("192.0.2.1") is None
    assert Attributor(sets, included={"mimecast"})("198.18.7.9")[0] == "mimecast"  # the record's own include wins


def test_included_platforms_one_per_include_and_aliases_count():
    catalogue = load_catalogue()
    names = {"aacn.org", "eu._netblocks.mimecast.com", "google.com", "sendinblue.com", "spf.brevo.com"}
    assert included_platforms(names, catalogue) == ["google-workspace", "mimecast-eu", "brevo"]


def _report(org: str, rows, domain="aacn.org") -> AggregateReport:
    return AggregateReport(org, org + "-1", domain, "2026-11-16 00:00:00", "2026-11-16 23:59:59",
                  tuple(Row(ip, n, spf, "pass", spf == "pass", header) for ip, n, spf, header in rows))


def test_classification_authorised_unauthorised_unused_unknown():
    catalogue = load_catalogue()
    sets = [sender_set("sendgrid", "198.18.2.0/24"), sender_set("microsoft365", "40.107.0.0/16"),
            sender_set("mailgun", "198.18.5.0/24"), sender_set("zendesk", "198.18.30.0/24")]
    reports = [_report("google.com", [("40.107.1.1", 10, "pass", "aacn.org"), ("198.18.2.1", 4, "fail", "aacn.org"),
                                      ("198.18.2.2", 1, "pass", "aacn.org"), ("192.0.2.9", 2, "fail", "aacn.org"),
                                      ("203.0.113.7", 3, "fail", "aacn.org"),
                                      ("40.107.9.9", 99, "pass", "other.example")]),  # another From: not ours
               _report("Yahoo", [("40.107.1.1", 5, "pass", "news.aacn.org")])]  # a subdomain counts
    today = {"40.107.1.1": ("pass", "include:spf.protection.outlook.com"), "198.18.2.1": ("softfail", None),
             "198.18.2.2": ("pass", "ip4:198.18.2.2"), "192.0.2.9": ("softfail", None), "203.0.113.7": ("fail", None)}
    results = {"aacn.org": today, "news.aacn.org": {"40.107.1.1": today["40.107.1.1"]}}  # per envelope domain
    ptrs = {"192.0.2.9": "host.dsl.example.net", "203.0.113.7": "o1.ptr9.sendgrid.net"}
    found = classify("aacn.org", "v=spf1 …", reports, catalogue, Attributor(sets, {"microsoft365", "mailgun"}),
                     results, ptrs, ["microsoft365", "mailgun"])
    by_name = {p.platform: p for p in found.platforms}
    assert [p.platform for p in found.platforms] == ["sendgrid", "microsoft365", "mailgun"]  # problems first
    assert by_name["microsoft365"].status == "authorised" and by_name["microsoft365"].messages == 15
    sendgrid = by_name["sendgrid"]
    assert sendgrid.status == "unauthorised" and sendgrid.include == "sendgrid.net"
    range_source = next(s for s in sendgrid.sources if s.source == "198.18.2.0/24")
    assert range_source.messages == 5 and range_source.result == {"softfail": 1, "pass": 1}  # per distinct IP
    assert any(s.source == "203.0.113.7/32" for s in sendgrid.sources)  # claimed by its PTR name
    assert by_name["mailgun"].status == "unused" and by_name["mailgun"].messages == 0
    (unknown,) = found.unknown
    assert unknown.source == "192.0.2.9" and unknown.ptr == "host.dsl.example.net" and not unknown.passes
    assert found.messages == 124 and found.suggested_expect() == ["microsoft365", "sendgrid"]
    assert found.period["reporters"] == ["Yahoo", "google.com"]


# ---- reading reports --------------------------------------------------------------------------------------

ROWS = [("198.18.2.20", 7, "softfail", "pass"), ("40.107.22.53", 3, "pass", "pass")]


@pytest.mark.parametrize("wrap", ["xml", "gz", "zip", "eml"])
def test_every_wrapping_reads_the_same(tmp_path, wrap):
    xml = report_xml("google.com", "noreply@google.com", "r-1", START, START + DAY - 1, ROWS)
    path = tmp_path / f"report.{wrap}"
    if wrap == "xml":
        path.write_text(xml)
    elif wrap == "gz":
        path.write_bytes(gzip.compress(xml.encode()))
    elif wrap == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("google.com!aacn.org!1!2.xml", xml)
    else:
        path.write_bytes(as_eml(gzip.compress(xml.encode()), "google.com!aacn.org!1!2.xml.gz", "google.com",
                                "noreply@google.com"))
    reading = read_reports([path], "aacn.org")
    (report,) = reading.reports
    assert report.org == "google.com" and report.begin == "2026-11-16 00:00:00"
    assert [(r.ip, r.count, r.spf, r.dkim) for r in report.rows] == [(ip, n, spf, dkim) for ip, n, spf, dkim in ROWS]


def test_the_fixture_folder_two_reporters_one_period_and_a_duplicate():
    reading = read_reports([DMARC], "aacn.org")
    assert len(reading.reports) == 4 and reading.duplicates == 1
    ((copy, why),) = reading.skipped  # the .xml attached to the Google message, saved beside it
    assert copy.endswith(".xml") and why.startswith("the same report as") and "google-report" in why
    assert {r.org for r in reading.reports} == {"google.com", "Enterprise Outlook"}
    assert {(r.begin, r.end) for r in reading.reports if r.org == "google.com"} == \
        {(r.begin, r.end) for r in reading.reports if r.org != "google.com"}  # the same two days from both


def test_what_is_not_a_report_about_the_domain_is_skipped_with_the_reason(tmp_path):
    (tmp_path / "other.xml").write_text(report_xml("google.com", "x@google.com", "r-9", START, START + DAY, ROWS,
                                                   domain="other.example"))
    (tmp_path / "garbage.xml").write_bytes(b"\x00\xff" * 1000)
    (tmp_path / "empty.xml.gz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("ignored: not a report suffix")
    bad_ip = report_xml("google.com", "x@google.com", "r-8", START, START + DAY, [("not-an-ip", 5, "pass", "pass"),
                                                                                    ("192.0.2.1", 2, "fail", "fail")])
    (tmp_path / "bad-ip.xml").write_text(bad_ip)
    reading = read_reports([tmp_path], "aacn.org")
    reasons = dict((p.rsplit("/", 1)[1], why) for p, why in reading.skipped)
    # issue #23: every file of a folder is read or listed with its reason (notes.txt is no longer passed over)
    assert set(reasons) == {"other.xml", "garbage.xml", "empty.xml.gz", "notes.txt"}
    assert "other.example" in reasons["other.xml"]
    (report,) = reading.reports
    assert [r.ip for r in report.rows] == ["192.0.2.1"]  # the row with a malformed address says nothing …
    assert [why for _, why in reading.skipped_rows] == ["source address 'not-an-ip' is not an IP address"]  # … but
    # issue #21: it is listed, not dropped in silence


def test_a_missing_path_and_a_missing_parser_are_one_line_errors(tmp_path, monkeypatch, capsys):
    with pytest.raises(UserError, match="does not exist"):
        read_reports([tmp_path / "nope"], "aacn.org")
    with pytest.raises(UserError, match="is not a file or a folder"):
        read_reports(["/dev/null"], "aacn.org")
    monkeypatch.setitem(sys.modules, "parsedmarc", None)
    assert main(["senders", "aacn.org", "--dmarc-reports", str(DMARC), "--zone", str(DEMO_ZONES)]) == 2
    err = capsys.readouterr().err
    assert "needs parsedmarc" in err and len(err.strip().splitlines()) == 1


def test_no_report_about_the_domain(tmp_path, capsys):
    (tmp_path / "a.xml").write_text("<feedback/>")
    assert main(["senders", "aacn.org", "--dmarc-reports", str(tmp_path), "--zone", str(DEMO_ZONES)]) == 2
    assert "no DMARC aggregate report about aacn.org" in capsys.readouterr().err


# ---- the command, end to end -------------------------------------------------------------------------------

def run(capsys, *extra) -> tuple[int, str]:
    code = main(["senders", "aacn.org", "--dmarc-reports", str(DMARC), "--zone", str(DEMO_ZONES), *extra])
    return code, capsys.readouterr().out


def test_the_readme_example(capsys):
    code, out = run(capsys)
    assert code == 1  # a platform sends without SPF authorising it
    # issue #23: SendGrid's mail fails SPF but passes DMARC by DKIM — said so, never "NOT AUTHORISED"
    assert "sendgrid          SPF fails, DKIM passes" in out and "include:sendgrid.net would make SPF pass too" in out
    assert "NOT AUTHORISED" not in out
    assert "google-workspace  authorised" in out and "microsoft365      authorised" in out
    assert "mimecast-us       unused" in out and "candidate to remove" in out
    assert "198.51.100.10  18 message(s)  by include:docebosaas.com" in out
    assert "192.0.2.99  4 message(s)" in out and "possible spoofing" in out
    assert "2 aggregate report(s)" not in out and "4 aggregate report(s) from Enterprise Outlook, google.com" in out


def test_json_follows_its_schema_and_counts_add_up(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    code, out = run(capsys, "--format", "json", "--suggest")
    data = json.loads(out)
    schema = json.loads(resources.files("spfguard").joinpath("schema/senders.schema.json").read_text())
    jsonschema.validate(data, schema)
    sendgrid = next(p for p in data["platforms"] if p["platform"] == "sendgrid")
    assert sendgrid == {"platform": "sendgrid", "display": "Twilio SendGrid", "status": "dkim-only",
                        "messages": 47, "include": "sendgrid.net", "attributed_by": "ranges",
                        "dispositions": {"none": 47}, "evidence": "DKIM-aligned mail from it", "sources": [
                            {"source": "198.18.2.0/24", "messages": 47, "spf_seen": {"softfail": 47},
                             "dkim_seen": {"pass": 47}, "dmarc_pass": 47, "check_host": "softfail",
                             "envelope": "aacn.org", "dispositions": {"none": 47}, "forwarded": 47}]}
    assert data["period"]["messages"] == sum(p["messages"] for p in data["platforms"]) + sum(
        u["messages"] for key in ("unknown", "not_spf_aligned", "other_from_domains") for u in data[key])
    assert data["period"]["duplicates"] == 1
    assert data["suggest"]["expect"] == ["google-workspace", "microsoft365", "sendgrid"]


def test_csv_has_a_row_per_source(capsys):
    code, out = run(capsys, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(r["platform"], r["status"], r["source"]) for r in rows} >= {
        ("sendgrid", "dkim-only", "198.18.2.0/24"), ("mimecast-us", "unused", ""), ("", "spoofing", "192.0.2.99")}
    assert sum(int(r["messages"]) for r in rows) == 604  # every message in exactly one row


def test_the_suggested_fix_authorises_the_missing_sender(capsys):
    code, out = run(capsys, "--suggest")
    command = out.strip().splitlines()[-1].strip()
    args = shlex.split(command)
    assert args[:3] == ["spfguard", "fix", "aacn.org"] and "--expect" in args
    assert main([*args[1:], "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    (apex,) = [c for c in plan["changes"] if c["name"] == "aacn.org"]
    dns = OverlayDns(ZoneFileDns.load(DEMO_ZONES), {"aacn.org": apex["after"]})
    for ip in ("198.18.2.20", "198.18.2.21", "40.107.22.53", "209.85.220.41"):  # SendGrid now, the others still
        result = asyncio.run(check_host_async(ip, "aacn.org", "postmaster@aacn.org", helo="aacn.org", dns=dns))
        assert result.result == "pass", (ip, result)


def test_hostile_report_files_are_refused_by_the_parser(tmp_path):
    """An XML entity bomb and a gzip that inflates past parsedmarc's limit: skipped in about a second, not parsed."""
    (tmp_path / "lol.xml").write_text('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                                      '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><feedback>&b;</feedback>')
    (tmp_path / "inflate.xml.gz").write_bytes(gzip.compress(b"<feedback>" + b" " * (110 * 2**20), compresslevel=1))
    reading = read_reports([tmp_path], "aacn.org")
    reasons = {p.rsplit("/", 1)[1]: why for p, why in reading.skipped}
    assert "DOCTYPE" in reasons["lol.xml"] and "limit" in reasons["inflate.xml.gz"] and not reading.reports


def test_dns_that_fails_is_exit_3_and_a_missing_chain_is_named(capsys, tmp_path):
    """Without the domain's record "today" cannot be said (exit 3); a platform whose chain cannot be resolved is
    named instead of silently attributing nothing to it."""
    assert main(["senders", "aacn.org", "--dmarc-reports", str(DMARC), "--nameserver", "127.0.0.1:9", "--timeout",
                 "0.2", "--retries", "0"]) == 3
    assert "could not read the SPF tree of aacn.org" in capsys.readouterr().err
    zones = tmp_path / "zones"
    zones.mkdir()
    for zone in DEMO_ZONES.glob("*.zone"):
        if zone.name != "sendgrid.net.zone":
            (zones / zone.name).write_text(zone.read_text())
    assert main(["senders", "aacn.org", "--dmarc-reports", str(DMARC), "--zone", str(zones), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["platform"] for p in data["unresolved_platforms"]] == ["sendgrid"]
    assert "198.18.2.20" in [u["source"] for u in data["unknown"]]  # not attributed, and shown as such


def test_real_reports_from_public_projects_give_parsedmarcs_totals():
    """../shared/realdata/dmarc: 63 files from six projects. Every file is read or listed with its reason, and each
    aggregate report parsedmarc reads gives the same number of messages here (files it rejects, e.g. a report
    gzipped twice, are read row by row)."""
    parsedmarc = pytest.importorskip("parsedmarc")
    from tests.conftest import shared_file

    folder = shared_file("realdata", "dmarc")
    reading = read_reports([folder], None)
    files = {str(p) for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}
    accounted = {r.source.split(":", 1)[0] for r in reading.reports} | {f.split(":", 1)[0] for f, _ in reading.skipped}
    assert files <= accounted, sorted(files - accounted)
    compared = 0
    for path in sorted(files):
        try:
            parsed = parsedmarc.parse_report_file(Path(path).read_bytes(), offline=True, always_use_local_files=True)
        except parsedmarc.ParserError:  # its own refusals (we read some of those row by row)
            continue
        if parsed.get("report_type") != "aggregate":
            continue
        mine = [r for r in reading.reports if r.source.split(":", 1)[0] == path]
        if not mine:  # the same report as another file (a .xml and its .gz): listed, counted once
            assert any(f.split(":", 1)[0] == path and "the same report as" in why for f, why in reading.skipped), path
            continue
        assert sum(row.count for r in mine for row in r.rows) == sum(int(r["count"]) for r in
                                                                     parsed["report"]["records"]), path
        compared += 1
    assert compared >= 30 and reading.duplicates >= 10
