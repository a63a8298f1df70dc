"""Vendor catalogue, coverage (exact CIDR lists, both families), stale ranges, the Microsoft endpoint client
against a local HTTP server, and the allow-list exports."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from spfguard.cli.main import main
from spfguard.dns.zonefile import ZoneFileDns
from spfguard.vendors import allowlist
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.msendpoints import EndpointsClient, EndpointsError, snapshot
from tests.conftest import DEMO_ZONES, SHARED
from tests.helpers import codes, run_audit

MS_SPF = ["40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/15", "52.102.0.0/16", "52.103.0.0/17", "104.47.0.0/17",
          "2a01:111:f400::/48", "2a01:111:f403::/49", "2a01:111:f403:8000::/51", "2a01:111:f403:c000::/51",
          "2a01:111:f403:f000::/52"]
GOOGLE_V6 = ["2001:4860:4864::/56", "2404:6800:4864::/56", "2607:f8b0:4864::/56", "2800:3f0:4864::/56",
             "2a00:1450:4864::/56", "2c0f:fb50:4864::/56"]
EXPECT = ["microsoft365", "google-workspace", "mimecast-us"]


@pytest.fixture
def dns(tmp_path):
    """The demo zones (real vendor chains, dated snapshots) plus customer domains in customer.test."""
    records = {
        "full-include": "v=spf1 include:spf.protection.outlook.com include:_spf.google.com "
                        "include:us._netblocks.mimecast.com -all",
        "full-ranges": "v=spf1 " + " ".join(("ip6:" if ":" in n else "ip4:") + n for n in MS_SPF) + " -all",
        "partial": "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip6:2a01:111:f400::/48 "
                   "ip4:74.125.0.0/16 ip4:209.85.128.0/17 -all",
        "shadowed": "v=spf1 -ip4:40.107.0.0/16 include:spf.protection.outlook.com -all",
        "google-only": "v=spf1 include:_spf.google.com -all",
        "stale": "v=spf1 ip4:23.103.224.0/19 ip4:172.217.0.0/19 ip6:2001:4860:4000::/36 ip4:198.51.100.7 "
                 "include:_spf.google.com -all",
    }
    lines = ["$ORIGIN customer.test.", "$TTL 60", "@ IN SOA ns hm 1 1 1 1 1", "@ IN NS ns"]
    lines += [f'{name} IN TXT "{text}"' for name, text in records.items()]
    (tmp_path / "customer.test.zone").write_text("\n".join(lines) + "\n")
    return ZoneFileDns.load(DEMO_ZONES, tmp_path / "customer.test.zone")


def audit(name, dns, expect=EXPECT):
    return run_audit(f"{name}.customer.test", dns, expect=expect, dmarc=False)


def test_catalogue_is_data():
    catalogue = load_catalogue()
    assert catalogue.get("microsoft365").include == "spf.protection.outlook.com"
    assert catalogue.get("google-workspace").include == "_spf.google.com"
    assert {f"mimecast-{r}" for r in ("us", "eu", "uk", "de", "ca", "za", "au")} <= set(catalogue.platforms)
    with pytest.raises(KeyError, match="unknown platform 'nope'"):
        catalogue.get("nope")


REAL_SNAPSHOTS = ("microsoft365", "google-workspace", "mimecast-us", "mimecast-eu", "mimecast-uk", "mimecast-de",
                  "mimecast-ca", "mimecast-za", "mimecast-au", "mimecast")  # chains from ../shared/refdata


def test_the_catalogue_lists_25_platforms_each_with_a_documented_include(capsys):
    catalogue = load_catalogue()
    assert len(catalogue.platforms) >= 25
    assert all(p.source and p.include and p.display for p in catalogue.platforms.values())
    assert main(["ranges", "list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
    assert listed == list(catalogue.platforms) and {"sendgrid", "amazon-ses", "zendesk", "mailgun-eu"} <= set(listed)


def test_every_platform_has_a_fixture_zone_and_no_invented_range_passes_for_real():
    """Each include resolves offline; outside the dated snapshots, the fixture ranges are test addresses (RFC 2544
    198.18.0.0/15, RFC 3849 2001:db8::/32) and the zone file says it is not the real record."""
    import asyncio
    import ipaddress

    from spfguard.vendors.coverage import sender_sets

    catalogue = load_catalogue()
    sets = asyncio.run(sender_sets(list(catalogue.platforms), ZoneFileDns.load(DEMO_ZONES)))
    test_v4, test_v6 = ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8::/32")
    for s in sets:
        if s.platform.kind != "name":  # a pattern or a macro template: recognised in records, no ranges listed
            assert not (s.v4 or s.v6) and s.error is None, s.platform.name
            continue
        assert s.error is None and (s.v4 or s.v6), s.platform.name
        if s.platform.name in REAL_SNAPSHOTS:
            continue
        assert all(n.subnet_of(test_v4 if n.version == 4 else test_v6) for n in s.v4.cidrs() + s.v6.cidrs()), \
            s.platform.name
    for platform in catalogue.platforms.values():
        if platform.name in REAL_SNAPSHOTS or platform.kind != "name":
            continue
        zone = next(p for p in DEMO_ZONES.glob("*.zone") if platform.include == p.stem or
                    platform.include.endswith("." + p.stem))
        assert "NOT the real" in zone.read_text() or "MADE UP" in zone.read_text(), zone


def test_full_through_includes(dns):
    report = audit("full-include", dns)
    assert {n: c.status for n, c in report.coverage.items()} == dict.fromkeys(EXPECT, "full")
    assert report.coverage["microsoft365"].via == ["include:spf.protection.outlook.com"]
    assert not {"missing-vendor", "partial-vendor"} & set(codes(report))


def test_full_through_listed_ranges_in_both_families(dns):
    report = audit("full-ranges", dns, expect=["microsoft365"])
    cov = report.coverage["microsoft365"]
    assert cov.status == "full" and cov.missing == []
    assert len(cov.via) == len(MS_SPF)


def test_partial_lists_exact_missing_cidrs(dns):
    report = audit("partial", dns)
    ms, google, mimecast = (report.coverage[n] for n in EXPECT)
    assert ms.status == "partial"
    assert ms.missing == ["52.100.0.0/15", "52.102.0.0/16", "52.103.0.0/17", "104.47.0.0/17",
                          "2a01:111:f403::/49", "2a01:111:f403:8000::/51", "2a01:111:f403:c000::/51",
                          "2a01:111:f403:f000::/52"]
    assert google.status == "partial" and google.missing == GOOGLE_V6  # IPv4 listed, IPv6 not
    assert mimecast.status == "none"
    assert mimecast.missing == [  # 14 netblocks, aggregated: 170.10.128.0/24 and 170.10.129.0/24 make a /23
        "63.128.21.0/24", "170.10.128.0/23", "170.10.132.56/29", "170.10.132.64/29", "170.10.133.0/24",
        "185.58.84.93/32", "205.139.110.0/24", "207.211.30.64/26", "207.211.30.128/25", "207.211.31.0/25",
        "207.211.41.113/32", "216.145.221.0/24", "216.205.24.0/24"]
    assert [f.code for f in report.findings if f.code.endswith("vendor")] == \
        ["partial-vendor", "partial-vendor", "missing-vendor"]
    assert any(f.severity == "error" and "include:us._netblocks.mimecast.com" in f.message
               for f in report.findings if f.code == "missing-vendor")


def test_term_order_matters(dns):
    cov = audit("shadowed", dns, expect=["microsoft365"]).coverage["microsoft365"]
    assert cov.status == "partial" and cov.missing == ["40.107.0.0/16"]


def test_none(dns):
    report = audit("google-only", dns, expect=["microsoft365"])
    assert report.coverage["microsoft365"].status == "none"
    assert report.coverage["microsoft365"].missing == MS_SPF  # nothing in it can be merged
    assert "missing-vendor" in codes(report)


def test_stale_and_unrecognized_ranges(dns):
    report = audit("stale", dns, expect=["google-workspace"])
    ranges = {r.term: r for r in report.ranges}
    assert ranges["ip4:23.103.224.0/19"].status == "stale" and ranges["ip4:23.103.224.0/19"].owner == "Microsoft"
    assert ranges["ip4:172.217.0.0/19"].status == "stale" and ranges["ip4:172.217.0.0/19"].owner == "Google"
    assert ranges["ip6:2001:4860:4000::/36"].status == "vendor"  # overlaps Google's current /56
    assert ranges["ip4:198.51.100.7"].status == "unrecognized"
    stale = [f.term for f in report.findings if f.code == "stale-vendor-range"]
    assert stale == ["ip4:23.103.224.0/19", "ip4:172.217.0.0/19"]
    assert [f.severity for f in report.findings if f.code == "unrecognized-range"] == ["info"]


def test_seed_stale_ranges_are_flagged():
    report = run_audit("aacn.org", ZoneFileDns.load(DEMO_ZONES), expect=EXPECT)
    assert [f.term for f in report.findings if f.code == "stale-vendor-range"] == \
        ["ip4:23.103.224.0/19", "ip4:206.191.224.0/19", "ip4:40.103.0.0/16"]
    assert {n: c.status for n, c in report.coverage.items()} == dict.fromkeys(EXPECT, "full")
    assert report.coverage["microsoft365"].via == ["include:_spf.protection.outlook.com"]


def test_check_expect_from_config_and_json(tmp_path, capsys):
    config = tmp_path / "spfguard.toml"
    config.write_text('[check]\nexpect = ["microsoft365", "google-workspace", "mimecast-us"]\n')
    code = main(["check", "aacn.org", "--zone", str(DEMO_ZONES), "--config", str(config), "-f", "json"])
    data = json.loads(capsys.readouterr().out)["results"][0]
    assert code == 0
    assert data["coverage"]["mimecast-us"] == {"status": "full", "missing": [],
                                               "via": ["include:us._netblocks.mimecast.com"],
                                               "method": "exact"}
    assert [r["status"] for r in data["ranges"]] == ["stale"] * 3
    config.write_text('[check]\nexpect = ["microsoft356"]\n')
    code = main(["check", "aacn.org", "--zone", str(DEMO_ZONES), "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and "check.expect: unknown value 'microsoft356'" in err


# ---- Microsoft endpoint web service ------------------------------------------------------------------

class EndpointService:
    """A local HTTP server speaking the endpoint web service's /version and /endpoints, from the snapshot."""

    def __init__(self):
        self.version = "2026112500"
        self.requests: list[str] = []
        sets = snapshot().sets
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                service.requests.append(self.path)
                path = self.path.split("?")[0]
                if path == "/version/Worldwide":
                    body = {"instance": "Worldwide", "latest": service.version}
                elif path == "/endpoints/Worldwide":
                    body = [s for s in sets if s["serviceArea"] == "Exchange"]
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, prefix):
        return sum(r.startswith(prefix) for r in self.requests)


@pytest.fixture
def service():
    s = EndpointService()
    yield s
    s.server.shutdown()


def test_endpoint_client_downloads_only_when_the_version_changes(service, tmp_path):
    client = EndpointsClient(service.url, tmp_path)
    data, previous = client.update()
    assert (data.version, data.source, previous) == ("2026112500", "download", None)
    assert service.count("/endpoints/Worldwide") == 1
    data, previous = client.update()  # version unchanged: no download
    assert (data.source, previous) == ("cache", "2026112500")
    assert service.count("/version/Worldwide") == 2 and service.count("/endpoints/Worldwide") == 1
    service.version = "2026112600"
    data, previous = EndpointsClient(service.url, tmp_path).update()
    assert (data.version, previous) == ("2026112600", "2026112500") and service.count("/endpoints/") == 2
    guids = {r.split("ClientRequestId=")[1].split("&")[0] for r in service.requests}
    assert len(guids) == 1  # one client request id per installation
    cached = json.loads((tmp_path / "ms-endpoints-worldwide.json").read_text())
    assert cached["version"] == "2026112600" and cached["fetched_at"] > 0
    assert [str(n) for n in client.load().exchange_smtp_networks()][:2] == ["40.92.0.0/15", "40.107.0.0/16"]


def test_endpoint_client_offline_is_a_clear_error(tmp_path):
    client = EndpointsClient("http://127.0.0.1:9", tmp_path)
    with pytest.raises(EndpointsError, match="cannot reach 127.0.0.1:9"):
        client.update()
    assert client.load().source == "snapshot"


def test_ranges_update_cli(service, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPFGUARD_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SPFGUARD_MS_ENDPOINTS_URL", service.url)
    assert main(["ranges", "update"]) == 0
    assert "updated: version 2026112500" in capsys.readouterr().out
    assert main(["ranges", "update"]) == 0
    assert "up to date: version 2026112500" in capsys.readouterr().out
    monkeypatch.setenv("SPFGUARD_MS_ENDPOINTS_URL", "http://127.0.0.1:9")
    assert main(["ranges", "update"]) == 3
    err = capsys.readouterr().err
    assert "cannot reach" in err and len(err.strip().splitlines()) == 1


def test_snapshot_matches_the_shared_reference():
    reference = SHARED / "refdata" / "microsoft-endpoints-worldwide.json"
    if not reference.exists():
        pytest.skip("shared/ not beside the repository")
    assert json.loads(reference.read_text()) == snapshot().sets


# ---- allow-list exports --------------------------------------------------------------------------------

EXO = ["40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17"]


def test_mimecast_and_google_formats(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPFGUARD_CACHE_DIR", str(tmp_path))  # no cache: the packaged snapshot
    assert main(["ranges", "allowlist", "--for", "mimecast"]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == EXO  # Source IP Ranges (n.n.n.n/x): IPv4 only
    assert "IPv6 ranges left out" in out.err
    assert main(["ranges", "allowlist", "--for", "google-workspace", "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "IP address or range,Description"
    assert [r.split(",")[0] for r in rows[1:]] == EXO + ["2a01:111:f400::/48", "2a01:111:f403::/48"]
    assert all("Exchange Online outbound" in r for r in rows[1:])


def test_allowlist_diff_against_a_previous_export(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPFGUARD_CACHE_DIR", str(tmp_path))
    previous = tmp_path / "previous.csv"
    previous.write_text("Source IP Range,Comment\n40.92.0.0/15,x\n40.107.0.0/16,x\n52.100.0.0/15,old\n"
                        "104.47.0.0/17,x\n23.103.224.0/19,legacy\n")
    current = tmp_path / "current.csv"
    assert main(["ranges", "allowlist", "--for", "mimecast", "--previous", str(previous),
                 "--output", str(current), "-f", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["1 to add, 2 to remove, 3 unchanged", "+ 52.100.0.0/14", "- 23.103.224.0/19",
                     "- 52.100.0.0/15"]
    assert main(["ranges", "allowlist", "--for", "mimecast", "--previous", str(current)]) == 0
    assert capsys.readouterr().out.startswith("no change: 4 range(s)")


def test_read_export_accepts_hand_edited_text():
    found = allowlist.read_export("# comment\n 40.92.0.0/15 \nfoo\n2a01:111:f400::/48,note\n")
    assert {str(n) for n in found} == {"40.92.0.0/15", "2a01:111:f400::/48"}


def test_ranges_show(capsys):
    assert main(["ranges", "show", "google-workspace", "--zone", str(DEMO_ZONES), "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ranges"] == ["74.125.0.0/16", "209.85.128.0/17", *GOOGLE_V6]
    assert main(["ranges", "show", "google-workspace", "--source", "endpoints"]) == 2
    assert main(["ranges", "show", "nosuch"]) == 2


def test_ranges_show_unresolvable_chain_exits_3(capsys):
    assert main(["ranges", "show", "mimecast-usb", "--zone", str(DEMO_ZONES / "aacn.org.zone")]) == 3
    assert "could not resolve usb._netblocks.mimecast.com" in capsys.readouterr().err


