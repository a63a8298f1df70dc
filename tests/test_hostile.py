"""Issue #21: hostile files, plans, servers and secrets — every write checked before it is made, nothing trusted
that a user did not review, secrets out of every message, reports read as evidence from strangers, text that
cannot lie, bounded work, errors that name their cause."""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

from spfguard.cli.main import main
from spfguard.provider.base import Change, ProviderError
from spfguard.provider.zonefile import ZoneFileProvider
from tests.conftest import DEMO_ZONES, SHARED, TEST_ZONES

ZONE = """$ORIGIN dup.test.
$TTL 86400
@   IN SOA ns1 hostmaster 2026010100 3600 600 86400 300
@   IN NS  ns1
ns1 IN A   192.0.2.53
"""


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def zone_file(tmp_path: Path, body: str, name: str = "dup.test.zone") -> Path:
    path = tmp_path / name
    path.write_text(ZONE + body)
    return path


# ---- the zone-file provider checks every write before it is made -------------------------------------------

def test_a_record_listed_twice_is_refused_with_nothing_written(tmp_path):
    path = zone_file(tmp_path, '@ 300 IN TXT "v=spf1 -all"\n@ 300 IN TXT "v=spf1 -all"\n')
    before = path.read_text()
    provider = ZoneFileProvider({"path": str(path)})
    assert provider.read_txt("dup.test") == ["v=spf1 -all"]  # what DNS serves: one (merged) value
    with pytest.raises(ProviderError, match="it is listed twice"):
        provider.apply([Change("dup.test", ("v=spf1 -all",), ("v=spf1 ip4:192.0.2.1 -all",))])
    assert path.read_text() == before
    assert not list(tmp_path.glob("*.spfguard-lock")) and not list(tmp_path.glob(".*spfguard-tmp"))


def test_a_value_in_the_generic_form_is_replaced_not_doubled(tmp_path):
    record = b"v=spf1 -all"
    hexed = (bytes([len(record)]) + record).hex()
    path = zone_file(tmp_path, f"@ 300 IN TYPE16 \\# {len(record) + 1} {hexed}\n")
    provider = ZoneFileProvider({"path": str(path)})
    assert provider.read_txt("dup.test") == ["v=spf1 -all"]
    provider.apply([Change("dup.test", ("v=spf1 -all",), ("v=spf1 ip4:192.0.2.1 -all",))])
    assert provider.read_txt("dup.test") == ["v=spf1 ip4:192.0.2.1 -all"]  # one SPF record, never two
    assert "TYPE16" not in path.read_text()


def test_the_ttl_of_a_record_is_kept_and_a_rollback_restores_it(tmp_path, capsys, monkeypatch):
    zones = tmp_path / "zones"
    shutil.copytree(DEMO_ZONES, zones)
    path = zones / "aacn.org.zone"
    text = path.read_text()
    line = next(x for x in text.splitlines() if "v=spf1" in x)
    path.write_text(text.replace(line, line.replace("IN TXT", "300 IN TXT", 1) if "IN TXT" in line else line))
    monkeypatch.setenv("SPFGUARD_ZONEFILE", str(path))
    assert run(capsys, "fix", "aacn.org", "--zone", zones, "--expect", "microsoft365", "--provider", "zonefile",
               "--apply", "--backup-dir", tmp_path / "b", "--wait", "2")[0] == 0
    new_line = next(x for x in path.read_text().splitlines() if "v=spf1" in x)
    assert " 300 IN TXT" in new_line  # not the file's $TTL
    (backup,) = (tmp_path / "b").iterdir()
    assert run(capsys, "rollback", backup, "--provider", "zonefile", "--apply", "--zone", zones, "--backup-dir",
               tmp_path / "b2", "--wait", "2")[0] == 0
    restored = next(x for x in path.read_text().splitlines() if "v=spf1" in x)
    assert " 300 IN TXT" in restored and "ip4:23.103.224.0/19" in restored


def test_a_symlink_loop_is_one_line(tmp_path, capsys, monkeypatch):
    loop = tmp_path / "loop.zone"
    loop.symlink_to(tmp_path / "loop.zone")
    monkeypatch.setenv("SPFGUARD_ZONEFILE", str(loop))
    code, out, err = run(capsys, "inventory", "--provider", "zonefile")
    assert code == 1 and "loop of symbolic links" in err and len(err.strip().splitlines()) == 1


def test_an_unrelated_bad_record_does_not_stop_a_write_and_a_bad_txt_names_its_line(tmp_path):
    body = ('@ 300 IN TXT "v=spf1 -all"\n'
            "_25._tcp.mx IN TLSA 3 1 1 abcd\n"  # a digest of the wrong length: not ours to judge
            "www IN CNAME example.net.\nwww IN A 192.0.2.8\n")  # CNAME beside other data
    path = zone_file(tmp_path, body)
    provider = ZoneFileProvider({"path": str(path)})
    provider.apply([Change("dup.test", ("v=spf1 -all",), ("v=spf1 ip4:192.0.2.1 -all",))])
    assert provider.read_txt("dup.test") == ["v=spf1 ip4:192.0.2.1 -all"]
    assert "_25._tcp.mx IN TLSA 3 1 1 abcd" in path.read_text()  # untouched
    bad = zone_file(tmp_path, '@ IN TXT "v=spf1 -all\n', "bad.test.zone")
    with pytest.raises(ProviderError, match=r"line 7"):
        ZoneFileProvider({"path": str(bad), "zone": "dup.test"}).read_txt("dup.test")


def test_a_file_without_origin_takes_the_zone_setting(tmp_path):
    path = tmp_path / "db.example"
    path.write_text(ZONE.replace("$ORIGIN dup.test.\n", "") + '@ IN TXT "v=spf1 -all"\n')
    with pytest.raises(ProviderError, match="set \\[providers.zonefile\\] zone"):
        ZoneFileProvider({"path": str(path)}).read_txt("dup.test")
    provider = ZoneFileProvider({"path": str(path), "zone": "dup.test"})
    assert provider.read_txt("dup.test") == ["v=spf1 -all"] and provider.zone_of("dup.test") == "dup.test"


# ---- a reviewed plan is proven again, not trusted ------------------------------------------------------------

@pytest.fixture
def reviewed(tmp_path, capsys, monkeypatch):
    zones = tmp_path / "zones"
    shutil.copytree(DEMO_ZONES, zones)
    monkeypatch.setenv("SPFGUARD_ZONEFILE", str(zones / "aacn.org.zone"))
    plan = tmp_path / "plan.json"
    assert run(capsys, "fix", "aacn.org", "--zone", zones, "--expect", "microsoft365", "--plan-out", plan)[0] == 0
    return zones, plan, json.loads(plan.read_text())


def _recompute(data: dict) -> dict:
    from spfguard.fix.plan import Plan

    data["checksum"] = ""
    for change in data["changes"]:
        change["strings"] = [[v] for v in change["after"]]
    plan = Plan.from_json.__func__  # noqa: B018 - the checksum as an attacker would recompute it
    from spfguard.fix.plan import Change as PlanChange

    changes = [PlanChange(c["name"], tuple(c["before"]), tuple(c["after"])) for c in data["changes"]]
    data["checksum"] = Plan("x", changes, 0, 0, (0, 0)).checksum
    assert plan
    return data


def test_an_edited_plan_with_a_recomputed_checksum_is_proven_again_and_refused(reviewed, capsys, tmp_path):
    zones, path, data = reviewed
    before = (zones / "aacn.org.zone").read_text()
    apex = next(c for c in data["changes"] if c["name"] == "aacn.org")
    apex["after"] = [v if not v.startswith("v=spf1") else "v=spf1 +all" for v in apex["after"]]
    path.write_text(json.dumps(_recompute(data)))
    code, out, err = run(capsys, "fix", "--from-plan", path, "--provider", "zonefile", "--apply", "--zone", zones,
                         "--backup-dir", tmp_path / "b")
    assert code == 1 and "NOT equivalent" in out and "verdict: equivalent" not in out
    assert "refusing it" in err and (zones / "aacn.org.zone").read_text() == before


def test_a_plan_that_changes_another_name_is_refused(reviewed, capsys):
    zones, path, data = reviewed
    data["changes"].append({"name": "_dmarc.aacn.org", "before": ["v=DMARC1; p=none; rua=mailto:dmarc@aacn.org"],
                            "after": ["v=DMARC1; p=none; rua=mailto:x@attacker.example"]})
    path.write_text(json.dumps(_recompute(data)))
    code, out, err = run(capsys, "fix", "--from-plan", path, "--provider", "zonefile", "--apply", "--zone", zones)
    assert code == 1 and "_dmarc.aacn.org" in err and "not part of the SPF record set" in err


def test_the_reviewers_checksum_binds_the_file(reviewed, capsys):
    zones, path, data = reviewed
    seen_in_review = data["checksum"]
    apex = next(c for c in data["changes"] if c["name"] == "aacn.org")
    apex["after"] = [v + " " if v.startswith("v=spf1") else v for v in apex["after"]]
    path.write_text(json.dumps(_recompute(data)))
    code, out, err = run(capsys, "fix", "--from-plan", path, "--checksum", seen_in_review, "--provider", "zonefile",
                         "--zone", zones)
    assert code == 2 and "not the reviewed ones" in err


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.update(intended_differences="all"), "intended_differences must be a list"),
    (lambda d: d.update(flattened=[{"include": 5}]), "flattened[0].include must be a domain name"),
    (lambda d: d["changes"][0].update(strings=[["x" * 300]]), "character-string of 300 octets"),
    (lambda d: d["changes"][0].update(after=[7]), "after must be a list of strings"),
])
def test_malformed_plan_fields_are_one_line(reviewed, capsys, edit, words):
    zones, path, data = reviewed
    edit(data)
    path.write_text(json.dumps(data))
    code, out, err = run(capsys, "fix", "--from-plan", path, "--provider", "zonefile", "--zone", zones)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_a_conflict_after_a_reviewed_plan_asks_for_a_new_review(reviewed, capsys, tmp_path):
    zones, path, data = reviewed
    zonefile = zones / "aacn.org.zone"
    zonefile.write_text(zonefile.read_text().replace("~all", "-all", 1))  # someone edits after the review
    code, out, err = run(capsys, "fix", "--from-plan", path, "--provider", "zonefile", "--apply", "--zone", zones)
    assert code == 1 and "have the new plan reviewed" in err and "run the command again" not in err


# ---- secrets never shown -------------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["pa/ss", "pa?ss", "pa#ss", "pa ss", "pa%zzss"])
def test_a_postgresql_url_never_shows_its_password(capsys, password):
    code, out, err = run(capsys, "monitor", "status", "--state", f"postgresql://spf:{password}w0rd@127.0.0.1:9/db")
    assert code == 2 and "not a valid postgresql:// URL" in err
    assert "w0rd" not in out + err and password not in out + err


class EchoingApi:
    """An API that repeats the request's headers in its error text (some do)."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = json.dumps({"error": f"bad request {dict(self.headers.items())}"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def test_a_server_that_echoes_the_api_key_never_gets_it_printed(capsys, monkeypatch, tmp_path):
    pytest.importorskip("spfguard_powerdns", reason="the powerdns plugin: pip install ./providers/powerdns")
    api = EchoingApi()
    key = "k3y-that-must-never-show-0123456789"
    monkeypatch.setenv("PDNS_API_URL", api.url)
    monkeypatch.setenv("PDNS_API_KEY", key)
    try:
        code, out, err = run(capsys, "inventory", "--provider", "powerdns")
        assert code == 1 and "bad request" in err and key not in out + err and "***" in err
    finally:
        api.stop()


def test_a_tsig_spec_the_other_way_round_is_refused_without_showing_a_part(capsys, monkeypatch):
    secret = base64.b64encode(b"s" * 18).decode()
    monkeypatch.setenv("SPFGUARD_RFC2136_SERVER", "127.0.0.1:9")
    monkeypatch.setenv("SPFGUARD_RFC2136_TSIG", f"{secret}:hmac-sha256:tsigkeyname1")
    code, out, err = run(capsys, "inventory", "--provider", "rfc2136")
    assert code == 2 and "looks like a secret" in err and secret not in out + err


# ---- reports are evidence from strangers ---------------------------------------------------------------------

def _xml(org, report_id, rows, begin="1794787200", end="1794873599", domain="aacn.org"):
    from tests.support.dmarc_reports import report_xml

    return report_xml(org, f"noreply@{org}", report_id, int(begin), int(end), rows, domain=domain)


def test_rows_that_are_not_rows_are_listed_and_every_report_of_a_zip_is_read(tmp_path):
    pytest.importorskip("parsedmarc")
    from spfguard.senders.reports import read_reports

    good = _xml("google.com", "g-1", [("198.18.2.20", 7, "softfail", "pass")])
    scoped = _xml("Yahoo", "y-1", [("fe80::1%eth0", 3, "pass", "pass"), ("2001:db8::25", 10 ** 30, "pass", "pass"),
                                   ("192.0.2.1", 2, "fail", "fail")])
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.xml", good)
        archive.writestr("b.xml", scoped)
    reading = read_reports([tmp_path], "aacn.org")
    assert sorted(r.org for r in reading.reports) == ["Yahoo", "google.com"]
    reasons = [why for _, why in reading.skipped_rows]
    assert any("zone id" in r for r in reasons) and any("out of range" in r for r in reasons)
    assert all("two.zip:b.xml row" in where for where, _ in reading.skipped_rows)


def test_a_forged_copy_of_a_report_id_does_not_hide_the_real_report(tmp_path):
    pytest.importorskip("parsedmarc")
    from spfguard.senders.reports import read_reports

    (tmp_path / "real.xml").write_text(_xml("google.com", "same-id", [("40.107.1.1", 50, "pass", "pass")]))
    (tmp_path / "forged.xml").write_text(_xml("google.com", "same-id", [("192.0.2.66", 1, "pass", "pass")],
                                              begin="1794873600", end="1794959999"))
    (tmp_path / "copy.xml").write_text(_xml("google.com", "same-id", [("40.107.1.1", 50, "pass", "pass")]))
    reading = read_reports([tmp_path], "aacn.org")
    assert len(reading.reports) == 2 and reading.duplicates == 1  # another period is another report


def test_one_forged_report_is_not_enough_to_suggest_authorising_a_platform(tmp_path, capsys):
    pytest.importorskip("parsedmarc")
    # SendGrid's range, SPF failing and DKIM failing: nothing shows the mail is really the domain's
    (tmp_path / "forged.xml").write_text(_xml("evil.example", "f-1", [("198.18.2.20", 900, "fail", "fail")]))
    code, out, err = run(capsys, "senders", "aacn.org", "--dmarc-reports", tmp_path, "--zone", DEMO_ZONES,
                         "--suggest")
    assert "not suggested: sendgrid" in out and "sendgrid" not in out.split("suggested --expect")[1]
    (tmp_path / "second.xml").write_text(_xml("Yahoo", "y-2", [("198.18.2.21", 5, "fail", "fail")]))
    code, out, err = run(capsys, "senders", "aacn.org", "--dmarc-reports", tmp_path, "--zone", DEMO_ZONES,
                         "--suggest")
    assert "suggested: include:sendgrid.net for sendgrid (seen by 2 reporters)" in out


def test_a_hundred_thousand_sources_are_evaluated_by_cell(tmp_path, capsys):
    """Correctness at scale (speed is in `make bench`): every source placed, one check_host() per cell."""
    pytest.importorskip("parsedmarc")
    import random

    rng = random.Random(5)
    rows = [(f"100.{rng.randrange(64, 128)}.{rng.randrange(256)}.{rng.randrange(256)}", 1, "fail",
             "fail") for _ in range(20_000)] + [("40.107.22.53", 7, "pass", "pass")]
    (tmp_path / "big.xml").write_text(_xml("google.com", "big", rows))
    code, out, err = run(capsys, "senders", "aacn.org", "--dmarc-reports", tmp_path, "--zone", DEMO_ZONES, "--format",
                         "json")
    data = json.loads(out)
    assert data["period"]["messages"] == 20_007
    placed = sum(p["messages"] for p in data["platforms"]) + sum(u["messages"] for u in data["unknown"])
    assert placed == 20_007 and next(p for p in data["platforms"] if p["platform"] == "microsoft365")["messages"] == 7


# ---- text that cannot lie ------------------------------------------------------------------------------------

def test_bidi_and_zero_width_characters_are_escaped_everywhere(tmp_path, capsys):
    from spfguard.textsafe import csv_cell, safe

    assert safe("\u202emoc.elgoog") == "\\u202emoc.elgoog" and safe("a\u200bb") == "a\\u200bb"
    assert csv_cell("=HYPERLINK(\"http://x\")").startswith("'") and csv_cell("+1").startswith("'")
    assert csv_cell("@SUM(A1)").startswith("'") and csv_cell(-1) == -1
    pytest.importorskip("parsedmarc")
    (tmp_path / "r.xml").write_text(_xml("\u202emoc.elgoog", "b-1", [("192.0.2.77", 3, "fail", "fail")]))
    code, out, err = run(capsys, "senders", "aacn.org", "--dmarc-reports", tmp_path, "--zone", DEMO_ZONES)
    assert "\u202e" not in out and "\\u202emoc.elgoog" in out


def test_csv_cells_from_strangers_cannot_run_in_a_spreadsheet(tmp_path, capsys):
    from spfguard.report.csvout import csv_line

    line = csv_line(["aacn.org", "=cmd|' /C calc'!A0", "-2+3", 5])
    assert line.startswith("aacn.org,'=cmd") and ",'-2+3,5" in line


# ---- domain lists --------------------------------------------------------------------------------------------

def test_a_huge_csv_cell_and_a_quoted_header(tmp_path, capsys):
    huge = tmp_path / "huge.csv"
    huge.write_text('domain,tenant\n"aacn.org","' + "x" * (200 * 1024) + '"\n')
    code, out, err = run(capsys, "check", "--domains-from", huge, "--zone", DEMO_ZONES)
    assert code == 2 and "cell" in err and len(err.strip().splitlines()) == 1
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"domain","tenant"\n"aacn.org","acme"\n')
    code, out, err = run(capsys, "check", "--domains-from", quoted, "--zone", DEMO_ZONES, "--format", "summary")
    assert code in (0, 1) and out.startswith("aacn.org")


# ---- bounded work --------------------------------------------------------------------------------------------

def test_thousands_of_ranges_and_a_diamond_of_includes(tmp_path):
    from tests.helpers import codes, run_audit, zone

    terms = [f"ip4:10.{n // 256}.{n % 256}.0/24" for n in range(2412)] + ["ip4:10.0.0.0/16"]
    report = run_audit("big.example", zone(**{"big.example": ["v=spf1 " + " ".join(terms) + " -all"]}))
    assert codes(report).count("redundant-range") == 256  # the /24s inside the /16 (the /16 comes after them)
    diamond = {"top.example": ["v=spf1 " + " ".join(f"include:d{n}.example" for n in range(9)) + " -all"]}
    diamond |= {f"d{n}.example": ["v=spf1 " + " ".join(f"include:d{m}.example" for m in range(n + 1, 9)) + " -all"]
                for n in range(9)}
    report = run_audit("top.example", zone(**diamond))
    truncated = [f for f in report.findings if "tree larger than" in f.message]
    assert len(truncated) == len({f.message for f in truncated}) and max(f.count for f in truncated) > 1


# ---- errors that name their cause ----------------------------------------------------------------------------

def test_a_missing_provider_setting_is_a_configuration_error(capsys, monkeypatch):
    monkeypatch.delenv("SPFGUARD_RFC2136_SERVER", raising=False)
    code, out, err = run(capsys, "inventory", "--provider", "rfc2136")
    assert code == 2 and "no server" in err


def test_fix_on_a_name_it_cannot_read_is_exit_3_like_check(capsys):
    args = ["aacn.org", "--nameserver", "127.0.0.1:9", "--timeout", "0.2", "--retries", "0"]
    assert run(capsys, "check", *args)[0] == 3
    assert run(capsys, "fix", *args)[0] == 3


def test_plus_all_is_not_a_green_verdict():
    from spfguard.report.text import _COLORS, verdict_color
    from tests.helpers import run_audit, zone

    report = run_audit("open.example", zone(**{"open.example": ["v=spf1 +all"]}))
    assert report.verdict == "valid" and verdict_color(report) == _COLORS["error"]


def test_connector_validation_finds_a_host_named_in_etc_hosts():
    from tests.support.smtp import Accept, SmtpServer

    server = SmtpServer(Accept()).start()
    try:
        code = main(["connector", "validate", "--smart-host", f"localhost:{server.port}", "--tls", "any",
                     "--smtp-timeout", "5"])
        assert code == 1  # reached: it fails later, on STARTTLS (the test server offers none) — not "does not resolve"
    finally:
        server.stop()


def test_route53_says_why_it_refused_a_batch(monkeypatch, capsys):
    pytest.importorskip("spfguard_route53", reason="the route53 plugin: pip install ./providers/route53")
    from spfguard_route53 import _Conflict

    assert _Conflict("Tried to create resource record set but it already exists").reason.startswith("Tried to")


# ---- the conformance runner takes the suites as published -----------------------------------------------------

def test_go_spf_and_pyspf_suites_run_as_published(capsys):
    from spfguard import conformance

    blitiri = SHARED / "realdata" / "suites" / "blitirispf-tests.yml"
    pyspf = SHARED / "realdata" / "suites" / "pyspf-tests.yml"
    if not blitiri.exists():
        pytest.skip(f"{blitiri} not present (the shared/ folder sits beside the repository)")
    outcomes, skipped = conformance.run([str(blitiri)])
    assert len(outcomes) == 21 and not skipped  # `- SERVFAIL: true` taken, nothing refused
    servfail = next(o for o in outcomes if o.case.name == "exists-perm-error")
    assert servfail.passed
    # the documented deviations: single-label names (RFC 7208 §4.3 "none"), voids of MX hosts (§4.6.4)
    failing = {o.case.name for o in outcomes if not o.passed}
    assert failing <= {"resolution-with-10-lookups", "mx-resolution-10-terms", "mx-resolution-11-terms",
                       "one-mx-not-found", "all-mx-not-found", "include-not-found", "redirect-not-found"}
    outcomes, skipped = conformance.run([str(pyspf)])
    assert len(skipped) == 3 and all(c.skip for c in skipped)
    assert main_conformance([str(SHARED / "conformance" / "rfc7208-tests.yml")]).endswith("203 passed, 0 failed")


def main_conformance(paths):
    import contextlib
    import io

    from spfguard import conformance

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        conformance.main(paths)
    return buffer.getvalue().strip()


__all__ = ["TEST_ZONES", "gzip", "os"]
