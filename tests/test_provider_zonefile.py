"""The zone-file provider: the contract, serial bumps, untouched lines, and fix → rollback on a file."""

from __future__ import annotations

import itertools
import os
import shutil

import dns.name
import dns.rdata
import dns.rdatatype
import dns.zone
import pytest

from spfguard.cli.main import main
from spfguard.provider.base import Change, ProviderError
from spfguard.provider.testing import ProviderContract
from spfguard.provider.zonefile import ZoneFileProvider
from tests.conftest import DEMO_ZONES, TEST_ZONES

_counter = itertools.count()
ZONE = """; a hand-written zone with comments that must survive
$ORIGIN example.test.
$TTL 300
@   IN SOA ns1 hostmaster (
            2026010100 ; serial
            3600 600 86400 300 )
@   IN NS  ns1
ns1 IN A   192.0.2.53   ; the nameserver
www IN A   192.0.2.80
"""


class TestZoneFileContract(ProviderContract):
    secret = "no-secrets-in-a-zone-file"

    @pytest.fixture
    def path(self, tmp_path):
        path = tmp_path / "example.test.zone"
        path.write_text(ZONE)
        return path

    @pytest.fixture
    def provider(self, path):
        return ZoneFileProvider({"path": str(path)})

    @pytest.fixture
    def name(self):
        return f"c{next(_counter)}.example.test"

    @pytest.fixture
    def backdoor(self, path):
        def write(name, values):
            zone = dns.zone.from_file(str(path), origin="example.test.", relativize=False)
            node = zone.find_node(dns.name.from_text(name), create=True)
            node.delete_rdataset(zone.rdclass, dns.rdatatype.TXT)
            if values:
                rds = node.find_rdataset(zone.rdclass, dns.rdatatype.TXT, create=True)
                for v in values:
                    rds.add(dns.rdata.from_text("IN", "TXT", f'"{v}"'), 300)
            zone.to_file(str(path), relativize=False)

        return write


def test_edits_keep_other_lines_and_bump_the_serial(tmp_path):
    path = tmp_path / "example.test.zone"
    path.write_text(ZONE)
    provider = ZoneFileProvider({"path": str(path)})
    provider.apply([Change("example.test", (), ("v=spf1 a -all",))])
    text = path.read_text()
    assert "; the nameserver" in text and "; a hand-written zone" in text and "www IN A   192.0.2.80" in text
    today = int(__import__("datetime").date.today().strftime("%Y%m%d")) * 100
    assert f"{max(2026010101, today)} ; serial" in text
    assert provider.read_txt("example.test") == ["v=spf1 a -all"]
    provider.apply([Change("example.test", ("v=spf1 a -all",), ("v=spf1 a ~all",))])
    assert text.count("\n") == path.read_text().count("\n")  # replaced in place


def test_bad_settings_and_files(tmp_path, monkeypatch):
    monkeypatch.delenv("SPFGUARD_ZONEFILE", raising=False)
    with pytest.raises(ProviderError, match="no zone file"):
        ZoneFileProvider({})
    with pytest.raises(ProviderError, match="cannot read"):
        ZoneFileProvider({"path": str(tmp_path / "missing.zone")}).read_txt("x.example.test")
    bad = tmp_path / "bad.zone"
    bad.write_text("this is not a zone\n")
    with pytest.raises(ProviderError, match="not a valid zone file"):
        ZoneFileProvider({"path": str(bad)}).read_txt("x.bad")


def test_fix_and_rollback_through_the_cli(tmp_path, monkeypatch, capsys):
    path = tmp_path / "spfguard.test.zone"
    shutil.copy(TEST_ZONES / "spfguard.test.zone", path)
    original = path.read_text()
    monkeypatch.setenv("SPFGUARD_ZONEFILE", str(path))
    args = ["bigco.spfguard.test", "--zone", str(DEMO_ZONES), "--zone", str(path), "--provider", "zonefile",
            "--backup-dir", str(tmp_path / "b"), "--flatten", "always"]
    assert main(["fix", *args, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "verified at the zonefile provider" in out and "_spf1.bigco.spfguard.test" in out
    provider = ZoneFileProvider({"path": str(path)})
    assert provider.read_txt("_spf1.bigco.spfguard.test")  # the chained record exists
    assert main(["fix", *args, "--apply"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    (backup,) = (tmp_path / "b").iterdir()
    assert oct(os.stat(backup).st_mode & 0o777) == "0o600"
    assert main(["rollback", str(backup), "--provider", "zonefile"]) == 0  # dry run
    assert "dry run" in capsys.readouterr().out and provider.read_txt("_spf1.bigco.spfguard.test")
    assert main(["rollback", str(backup), "--provider", "zonefile", "--apply", "--zone", str(DEMO_ZONES)]) == 0
    assert provider.read_txt("_spf1.bigco.spfguard.test") == []
    restored = path.read_text()
    assert provider.read_txt_strings("bigco.spfguard.test") == ZoneFileProvider(
        {"path": str(TEST_ZONES / "spfguard.test.zone")}).read_txt_strings("bigco.spfguard.test")
    assert restored.count("\n") == original.count("\n")
    assert main(["rollback", str(backup), "--provider", "rfc2136"]) == 2  # not the provider of the backup


def test_inventory_of_a_zone_file_and_of_a_provider_that_cannot_list(tmp_path, capsys, monkeypatch):
    from spfguard.cli.main import main as cli

    monkeypatch.setenv("SPFGUARD_ZONEFILE", str(DEMO_ZONES / "aacn.org.zone"))
    assert cli(["inventory", "--provider", "zonefile"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "aacn.org,,,zonefile,"
    monkeypatch.setenv("SPFGUARD_RFC2136_SERVER", "127.0.0.1:53")
    assert cli(["inventory", "--provider", "rfc2136"]) == 1
    assert "listing zones is not supported" in capsys.readouterr().err
