"""Issue #16: parked domains (check --parked, the domain list's parked column) — the lockdown v=spf1 -all, DMARC
p=reject, null MX (RFC 7505) — and DMARC sp=none under a stricter p=."""

from __future__ import annotations

import csv
import io
import json

import pytest

from spfguard.cli.main import main
from spfguard.dns.zonefile import ZoneFileDns
from tests.conftest import DEMO_ZONES
from tests.helpers import codes, run_audit

ZONE = """$ORIGIN parked.test.
$TTL 300
@ IN SOA ns h 1 3600 600 86400 300
@ IN NS ns
locked IN TXT "v=spf1 -all"
locked IN MX 0 .
_dmarc.locked IN TXT "v=DMARC1; p=reject; rua=mailto:d@parked.test"
open IN TXT "v=spf1 include:_spf.google.com ~all"
open IN A 192.0.2.1
_dmarc.open IN TXT "v=DMARC1; p=reject; sp=none"
soft IN TXT "v=spf1  -all"
soft IN MX 10 mx.parked.test.
_dmarc.soft IN TXT "v=DMARC1; p=quarantine"
lax IN TXT "v=spf1 -all"
_dmarc.lax IN TXT "v=DMARC1; p=none; sp=none"
"""


@pytest.fixture
def zone(tmp_path):
    path = tmp_path / "parked.test.zone"
    path.write_text(ZONE)
    return path


def parked(name, zone):
    report = run_audit(f"{name}.parked.test", ZoneFileDns.load(zone, DEMO_ZONES), parked=True)
    return report, [f for f in report.findings if f.code == "parked-not-locked"]


def test_a_locked_domain_passes(zone, capsys):
    report, found = parked("locked", zone)
    assert found == [] and report.parked
    assert main(["check", "locked.parked.test", "--zone", str(zone), "--parked"]) == 0
    assert "MX: null MX (accepts no mail, RFC 7505)" in capsys.readouterr().out


def test_everything_missing_is_named_in_one_error(zone):
    _, (finding,) = parked("open", zone)
    assert finding.severity == "error"
    for part in ("not 'v=spf1 -all'", "DMARC p=reject sp=none, not p=reject", "no MX record: senders fall back"):
        assert part in finding.message


def test_spf_locked_but_dmarc_and_mx_not_is_a_warning(zone):
    _, (finding,) = parked("soft", zone)  # "v=spf1  -all" with two spaces is still the lockdown
    assert finding.severity == "warning"
    assert "DMARC p=quarantine" in finding.message and "MX 10 mx.parked.test" in finding.message
    assert "SPF" not in finding.message


def test_not_parked_means_not_judged(zone):
    report = run_audit("open.parked.test", ZoneFileDns.load(zone, DEMO_ZONES))
    assert "parked-not-locked" not in codes(report) and not report.parked


def test_subdomain_policy_none_under_a_stricter_policy(zone):
    strict = run_audit("open.parked.test", ZoneFileDns.load(zone, DEMO_ZONES))
    assert "dmarc-subdomain-policy-none" in codes(strict)
    lax = run_audit("lax.parked.test", ZoneFileDns.load(zone, DEMO_ZONES))
    assert "dmarc-subdomain-policy-none" not in codes(lax) and "dmarc-policy-none" in codes(lax)


def test_the_domain_list_parked_column(zone, tmp_path, capsys):
    fleet = tmp_path / "fleet.csv"
    fleet.write_text("domain,parked\nlocked.parked.test,true\nopen.parked.test,true\nsoft.parked.test,\n")
    assert main(["check", "--domains-from", str(fleet), "--zone", str(zone), "--zone", str(DEMO_ZONES),
                 "--format", "csv"]) == 1
    rows = {r["domain"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert (rows["locked.parked.test"]["parked"], rows["soft.parked.test"]["parked"]) == ("true", "false")
    assert "parked-not-locked" in rows["open.parked.test"]["findings"]
    assert "parked-not-locked" not in rows["soft.parked.test"]["findings"]  # not parked in the list
    assert main(["check", "soft.parked.test", "--zone", str(zone), "--parked", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["parked"] is True and "parked-not-locked" in [f["code"] for f in result["findings"]]
