"""PowerDNS provider against a real PowerDNS Authoritative (pdns-server + gsqlite3 on loopback, API on): the
contract, what the server then answers over DNS (character-strings byte for byte), fix → no-op → rollback
through the CLI with verification by DNS, disabled records kept, a refused key, and the race window the
README documents (PowerDNS has no precondition on an RRset)."""

from __future__ import annotations

import itertools
import json

import dns.message
import dns.query
import pytest
from spfguard_powerdns import PowerDnsProvider

from spfguard.cli.main import main
from spfguard.provider.base import Change, ProviderError
from spfguard.provider.testing import LONG, ProviderContract
from spfguard.provider.zonefile import ZoneFileProvider
from tests.conftest import DEMO_ZONES, TEST_ZONES

_counter = itertools.count()
ZONE = "spfguard.test"


def settings(pdns, **extra) -> dict:
    return {"url": pdns.url, "api_key": pdns.api_key, "nameserver": pdns.dns_address, **extra}


def served(pdns, name) -> list[tuple[bytes, ...]]:
    """The TXT character-strings PowerDNS answers over DNS (TCP), sorted."""
    response = dns.query.tcp(dns.message.make_query(name, "TXT"), "127.0.0.1", port=pdns.dns_port, timeout=5)
    return sorted(tuple(r.strings) for rrset in response.answer for r in rrset)


class TestPowerDnsContract(ProviderContract):
    @pytest.fixture
    def provider(self, pdns):
        self.secret = pdns.api_key
        return PowerDnsProvider(settings(pdns))

    @pytest.fixture
    def name(self):
        return f"p{next(_counter)}.{ZONE}"

    @pytest.fixture
    def backdoor(self, pdns):
        return lambda name, values: pdns.set_txt(name, values, ZONE)


def test_a_long_record_is_served_as_the_same_character_strings(pdns):
    provider = PowerDnsProvider(settings(pdns))
    name = f"long{next(_counter)}.{ZONE}"
    strings = (LONG[:100], LONG[100:300], LONG[300:])
    provider.apply([Change(name, (), (LONG, 'quote"d \\ value'), ((LONG, strings),))])
    assert served(pdns, name) == sorted([tuple(s.encode() for s in strings), (b'quote"d \\ value',)])
    assert sorted(provider.read_txt(name)) == sorted([LONG, 'quote"d \\ value'])


def test_disabled_records_and_the_ttl_are_kept(pdns):
    name = f"disabled{next(_counter)}.{ZONE}"
    pdns.api("PATCH", f"/api/v1/servers/localhost/zones/{ZONE}.", {"rrsets": [{
        "name": name + ".", "type": "TXT", "ttl": 123, "changetype": "REPLACE",
        "records": [{"content": '"v=spf1 -all"', "disabled": False}, {"content": '"old"', "disabled": True}]}]})
    provider = PowerDnsProvider(settings(pdns))
    assert provider.read_txt(name) == ["v=spf1 -all"]  # a disabled record is not served: not a value
    provider.apply([Change(name, ("v=spf1 -all",), ("v=spf1 ~all",))])
    zone = pdns.api("GET", f"/api/v1/servers/localhost/zones/{ZONE}.")  # unfiltered: disabled records too
    (rrset,) = [r for r in zone["rrsets"] if r["name"] == name + "." and r["type"] == "TXT"]
    assert rrset["ttl"] == 123
    assert sorted((r["content"], r["disabled"]) for r in rrset["records"]) == [('"old"', True),
                                                                              ('"v=spf1 ~all"', False)]


def test_an_edit_between_the_compare_and_the_patch_is_overwritten(pdns, monkeypatch):
    """The documented window: PowerDNS's API has no precondition, so an edit that lands after spfguard's read and
    before its PATCH is lost (the read before the PATCH catches every edit made earlier)."""
    name = f"race{next(_counter)}.{ZONE}"
    pdns.set_txt(name, ["v=spf1 -all"], ZONE)
    provider = PowerDnsProvider(settings(pdns))
    real_call = provider._call

    def call(method, path, what, body=None):
        if method == "PATCH":
            pdns.set_txt(name, ["v=spf1 ip4:203.0.113.9 -all"], ZONE)  # someone else, just in time
        return real_call(method, path, what, body)

    monkeypatch.setattr(provider, "_call", call)
    provider.apply([Change(name, ("v=spf1 -all",), ("v=spf1 ~all",))])
    assert provider.read_txt(name) == ["v=spf1 ~all"]  # their edit is gone: best effort, as documented


def test_a_refused_key_is_one_line_with_a_hint_and_without_the_key(pdns):
    provider = PowerDnsProvider(settings(pdns, api_key="wrong-key-1234"))
    with pytest.raises(ProviderError) as info:
        provider.read_txt(f"x.{ZONE}")
    assert "HTTP 401" in str(info.value) and "PDNS_API_KEY" in str(info.value)
    assert "wrong-key-1234" not in str(info.value) and pdns.api_key not in str(info.value)


@pytest.mark.parametrize(("given", "message"), [
    ({"url": "ns1.example:8081"}, "url must be the API's base URL"),
    ({"url": "http://127.0.0.1:9"}, "cannot reach the API"),
    ({"zone": "other.test"}, "HTTP 404"),
    ({"verify": "dns"}, "verify must be"),
])
def test_bad_settings_are_one_line(pdns, given, message):
    with pytest.raises(ProviderError, match=message):
        PowerDnsProvider({**settings(pdns), **given}).read_txt(f"x.{ZONE}")


def test_a_name_outside_every_zone(pdns):
    with pytest.raises(ProviderError, match="no zone for www.example.org"):
        PowerDnsProvider(settings(pdns)).read_txt("www.example.org")


def test_fix_and_rollback_through_the_cli_verified_over_dns(pdns, tmp_path, capsys, monkeypatch):
    name = f"bigco.{ZONE}"
    pdns.set_txt(name, ZoneFileProvider({"path": str(TEST_ZONES / f"{ZONE}.zone")}).read_txt(name), ZONE)
    original = served(pdns, name)
    monkeypatch.setenv("PDNS_API_KEY", pdns.api_key)
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.powerdns]\nurl = "{pdns.url}"\napi_key = "env:PDNS_API_KEY"\n'
                      f'nameserver = "{pdns.dns_address}"\n')
    args = [name, "--zone", str(DEMO_ZONES), "--zone", str(TEST_ZONES), "--provider", "powerdns", "--config",
            str(config), "--backup-dir", str(tmp_path / "b")]
    assert main(["fix", *args, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "lookups 15 → 9" in out and f"verified at {pdns.dns_address}" in out
    assert any(b"MS=ms12345678" in s for strings in served(pdns, name) for s in strings)  # other values kept
    assert main(["fix", *args, "--apply"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    (backup,) = (tmp_path / "b").iterdir()
    assert main(["rollback", str(backup), "--provider", "powerdns", "--config", str(config), "--apply"]) == 0
    assert served(pdns, name) == original
    everything = capsys.readouterr()
    assert pdns.api_key not in everything.out + everything.err + backup.read_text()
    assert json.loads(backup.read_text())["provider"] == {"provider": "powerdns", "url": pdns.url,
                                                          "server_id": "localhost"}


def test_inventory_lists_the_zones(pdns, monkeypatch, capsys):
    monkeypatch.setenv("PDNS_API_KEY", pdns.api_key)
    monkeypatch.setenv("PDNS_API_URL", pdns.url)
    assert main(["inventory", "--provider", "powerdns"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [f"{ZONE},,,powerdns,"]
