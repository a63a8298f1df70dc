"""checkdmarc parses a DMARC record inline when it needs no DNS, and in a worker thread through spfguard's own DNS
client when it verifies report destinations (RFC 7489 §7.1) — with ``--zone``, from the zone files."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from spfguard import dmarc
from spfguard.dns.base import Answer, Status
from spfguard.dns.memory import MemoryDns

HEADER = "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n"


def test_external_report_destinations_are_verified_through_the_runs_dns(tmp_path):
    (tmp_path / "example.test.zone").write_text(
        "$ORIGIN example.test.\n" + HEADER + 'a IN TXT "v=spf1 -all"\nb IN TXT "v=spf1 -all"\n'
        '_dmarc.a IN TXT "v=DMARC1; p=reject; rua=mailto:agg@reports.test"\n'
        '_dmarc.b IN TXT "v=DMARC1; p=reject; rua=mailto:agg@reports.test"\n')
    (tmp_path / "reports.test.zone").write_text(
        "$ORIGIN reports.test.\n" + HEADER + "@ IN MX 10 mx\nmx IN A 192.0.2.25\n"
        'a.example.test._report._dmarc IN TXT "v=DMARC1"\n')  # only a.example.test authorised
    proc = subprocess.run([sys.executable, "-m", "spfguard.cli.main", "check", "a.example.test", "b.example.test",
                           "--zone", str(tmp_path / "example.test.zone"), "--zone",
                           str(tmp_path / "reports.test.zone"), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    warnings = {r["domain"]: r["dmarc"]["warnings"] for r in json.loads(proc.stdout)["results"]}
    assert warnings["a.example.test"] == []
    assert any("b.example.test._report._dmarc.reports.test" in w for w in warnings["b.example.test"])


def test_a_record_without_destinations_is_parsed_without_dns_or_a_thread(monkeypatch):
    class NoQueries(MemoryDns):
        async def query(self, name: str, rdtype: str) -> Answer:
            raise AssertionError(f"asked {name} {rdtype}")

    async def no_thread(*args, **kwargs):
        raise AssertionError("a worker thread was started")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    found = dmarc.FoundDmarc(Answer("_dmarc.x.test", "TXT", Status.ANSWER, ((b"v=DMARC1; p=none",),)),
                             ["v=DMARC1; p=none"], "x.test")
    summary = asyncio.run(dmarc.parse_dmarc(found, NoQueries({})))
    assert summary.present and summary.policy == "none" and not summary.rua
    assert any("p tag value of none" in w for w in summary.warnings)
