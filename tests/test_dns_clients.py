"""The DNS layer: answer / NXDOMAIN / NODATA / temporary failure from each client, against real data."""

from __future__ import annotations

import asyncio
import ipaddress
import re

import pytest

from spfguard.dns.base import Status
from spfguard.dns.live import LiveDns, NameserverAddress
from spfguard.dns.memory import MemoryDns
from spfguard.dns.zonefile import ZoneFileDns, ZoneLoadError
from spfguard.errors import UserError
from tests.conftest import DEMO_ZONES


def q(client, name, rdtype):
    return asyncio.run(client.query(name, rdtype))


def test_memory_from_zonedata_conventions():
    dns = MemoryDns.from_zonedata({
        "spf.example.com": [{"SPF": "v=spf1 -all"}],
        "both.example.com": [{"SPF": "v=spf1 -all"}, {"TXT": "v=spf1 +all"}],
        "none.example.com": [{"SPF": "v=spf1 -all"}, {"TXT": "NONE"}],
        "slow.example.com": [{"TXT": "v=spf1 -all"}, "TIMEOUT"],
        "alias.example.com": [{"CNAME": "spf.example.com"}],
        "mx.example.com": [{"MX": [10, "Mail.Example.COM."]}],
    })
    assert q(dns, "spf.example.com", "TXT").records == ((b"v=spf1 -all",),)
    assert q(dns, "both.example.com", "TXT").records == ((b"v=spf1 +all",),)  # explicit TXT: no copy
    assert q(dns, "none.example.com", "TXT").status is Status.NODATA
    assert q(dns, "slow.example.com", "TXT").status is Status.ANSWER  # TXT came before TIMEOUT
    assert q(dns, "slow.example.com", "A").status is Status.TEMPFAIL
    assert q(dns, "alias.example.com", "TXT").records == ((b"v=spf1 -all",),)
    assert q(dns, "mx.example.com", "MX").records == ((10, "mail.example.com"),)
    assert q(dns, "missing.example.com", "TXT").status is Status.NXDOMAIN
    assert q(dns, "mx.example.com", "A").status is Status.NODATA
    assert q(dns, "mx.example.com", "A").void and q(dns, "missing.example.com", "A").void


def test_zone_files_answer_like_an_authoritative_server(tmp_path):
    dns = ZoneFileDns.load(DEMO_ZONES)
    txt = q(dns, "aacn.org", "TXT")
    assert txt.status is Status.ANSWER and len(txt.records) == 2
    assert q(dns, "docebosaas.com", "A").records == (ipaddress.ip_address("198.51.100.10"),)
    assert q(dns, "docebosaas.com", "AAAA").status is Status.NODATA
    assert q(dns, "nothing.aacn.org", "TXT").status is Status.NXDOMAIN
    assert q(dns, "aacn.org", "MX").records[0] == (10, "us-smtp-inbound-1.mimecast.com")
    outside = q(dns, "example.net", "TXT")
    assert outside.status is Status.TEMPFAIL and "not in the loaded zone files" in outside.error
    (tmp_path / "w.test.zone").write_text(
        "$TTL 60\n@ IN SOA ns hm 1 1 1 1 1\n@ IN NS ns\n*.wild IN TXT \"v=spf1 -all\"\nalias IN CNAME wild\n"
        "a.b.c IN A 192.0.2.1\n")
    w = ZoneFileDns.load(tmp_path / "w.test.zone")
    assert q(w, "x.wild.w.test", "TXT").records == ((b"v=spf1 -all",),)
    assert q(w, "b.c.w.test", "A").status is Status.NODATA  # empty non-terminal
    assert q(w, "alias.w.test", "A").status is Status.NODATA  # CNAME followed to a name without A


def test_an_empty_non_terminal_is_nodata_beside_a_sibling_wildcard(tmp_path):
    """RFC 4592 §2.2.2: with *.e.w.test and a.b.e.w.test, b.e.w.test exists (empty): NODATA, not the wildcard."""
    (tmp_path / "w.test.zone").write_text(
        "$TTL 60\n@ IN SOA ns hm 1 1 1 1 1\n@ IN NS ns\n*.e IN A 192.0.2.9\n*.e IN TXT \"v=spf1 +all\"\n"
        "a.b.e IN A 192.0.2.1\n")
    w = ZoneFileDns.load(tmp_path / "w.test.zone")
    assert q(w, "b.e.w.test", "A").status is Status.NODATA and q(w, "b.e.w.test", "TXT").status is Status.NODATA
    assert q(w, "x.e.w.test", "A").records == (ipaddress.ip_address("192.0.2.9"),)  # the wildcard still answers
    assert q(w, "x.b.e.w.test", "A").status is Status.NXDOMAIN  # below the ENT: its own closest encloser


def test_zone_file_errors_are_clear(tmp_path):
    with pytest.raises(ZoneLoadError, match="no such file"):
        ZoneFileDns.load(tmp_path / "missing")
    with pytest.raises(ZoneLoadError, match="no \\*.zone files"):
        ZoneFileDns.load(tmp_path)
    (tmp_path / "bad.test.zone").write_text("@ IN SOA broken\n")
    with pytest.raises(ZoneLoadError, match="bad.test.zone"):
        ZoneFileDns.load(tmp_path)


@pytest.mark.parametrize("text, host, port", [
    ("127.0.0.1", "127.0.0.1", 53), ("127.0.0.1:5300", "127.0.0.1", 5300), ("[::1]:5353", "::1", 5353),
    ("::1", "::1", 53), ("ns.example.net:53", "ns.example.net", 53)])
def test_nameserver_parsing(text, host, port):
    assert NameserverAddress.parse(text) == NameserverAddress(host, port)


@pytest.mark.parametrize("text, words", [
    ("127.0.0.1:0", "port must be"), ("127.0.0.1:99999", "port must be"), ("127.0.0.1:x", "port must be"),
    (":53", "not a host name"), ("fe80::1%eth0", "zone id"), ("[fe80::1%eth0]:53", "zone id"),
    ("[192.0.2.1]:53", "brackets are for IPv6"), ("[::1", "expected [IPv6]:PORT"), ("", "empty")])
def test_bad_nameservers_are_rejected(text, words):
    with pytest.raises(UserError, match=re.escape(words)):
        NameserverAddress.parse(text)


def test_live_client_against_knot(knot):
    dns = LiveDns([knot.address], timeout=1, retries=0)

    async def run():
        return await asyncio.gather(
            dns.query("aacn.org", "TXT"), dns.query("nothing.aacn.org", "TXT"), dns.query("docebosaas.com", "AAAA"),
            dns.query("docebosaas.com", "MX"), dns.query("host.spfguard.test", "AAAA"),
            dns.query("aacn.org", "TXT"), dns.query("AACN.org.", "TXT"))

    txt, nx, nodata, mx, aaaa, again, again2 = asyncio.run(run())
    assert txt.status is Status.ANSWER and any(rr[0].startswith(b"v=spf1") for rr in txt.records)
    assert nx.status is Status.NXDOMAIN and nodata.status is Status.NODATA
    assert mx.records == ((10, "mx.docebosaas.com"),)
    assert aaaa.records == (ipaddress.ip_address("2001:db8::10"),)
    assert again is txt or again == txt
    assert dns.sent == 5  # the three queries for aacn.org TXT were one


def test_live_client_falls_back_to_tcp_for_truncated_answers(knot):
    dns = LiveDns([knot.address], timeout=1, retries=0)
    answer = q(dns, "big.spfguard.test", "TXT")
    assert answer.status is Status.ANSWER
    spf = [b"".join(rr) for rr in answer.records if rr[0].startswith(b"v=spf1")]
    assert len(spf) == 1 and spf[0].endswith(b"ip4:203.0.113.32 -all")
    assert sum(len(b"".join(rr)) for rr in answer.records) > 512


def test_live_client_timeout_is_a_temporary_failure(relay):
    dns = LiveDns([relay.address], timeout=0.3, retries=1)
    answer = q(dns, "name.blackhole.spfguard.test", "TXT")
    assert answer.status is Status.TEMPFAIL and "timeout" in answer.error
    assert q(dns, "aacn.org", "TXT").status is Status.ANSWER  # the same relay answers other names
    assert relay.dropped >= 2  # one try and one retry


def test_live_client_refused_is_a_temporary_failure(knot):
    dns = LiveDns([knot.address], timeout=1, retries=0)
    answer = q(dns, "example.org", "TXT")  # Knot is not authoritative for it: REFUSED
    assert answer.status is Status.TEMPFAIL and "REFUSED" in answer.error


def test_the_systems_nameservers_come_from_resolv_conf(tmp_path):
    from spfguard.dns.live import system_nameservers

    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch example.com\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\n"
                    "nameserver not-an-address\nnameserver\noptions rotate\n nameserver 2001:db8::53\n")
    assert system_nameservers(conf) == [NameserverAddress("192.0.2.53"), NameserverAddress("fe80::1%eth0")]
    conf.write_text("search example.com\n")
    assert system_nameservers(conf) == []


def test_no_nameserver_at_all_is_a_clear_error(monkeypatch):
    import spfguard.dns.live as live

    monkeypatch.setattr(live, "system_nameservers", lambda: [])
    with pytest.raises(UserError, match="no nameserver to ask"):
        q(LiveDns(), "example.org", "TXT")
