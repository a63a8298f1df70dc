"""Google Cloud DNS provider through the official client (google-cloud-dns) and Application Default Credentials
(a service-account key file) against a local stand-in for the v1 REST API (tests/support/gcloud_dns.py, which says
what it does not reproduce): the contract, one Change whose deletions are the exact live sets, Cloud DNS's own
refusal of a concurrent change, waiting for ``done``, 429 then success, missing or refused credentials, and
fix → rollback through the CLI."""

from __future__ import annotations

import itertools
import json

import pytest

pytest.importorskip("google.cloud.dns", reason="spfguard-gcloud is installed with the test extras")
from spfguard_gcloud import CloudDnsProvider  # noqa: E402

from spfguard.cli.main import main  # noqa: E402
from spfguard.provider.base import Change, ConflictError, ProviderError  # noqa: E402
from spfguard.provider.testing import ProviderContract  # noqa: E402
from spfguard.provider.txt import quote  # noqa: E402
from spfguard.provider.zonefile import ZoneFileProvider  # noqa: E402
from tests.conftest import DEMO_ZONES, TEST_ZONES  # noqa: E402
from tests.support.gcloud_dns import CloudDnsApi  # noqa: E402

PROJECT, MANAGED = "spfguard-test-123", "spfguard-test"
ZONE = "spfguard.test"
_counter = itertools.count()


@pytest.fixture(scope="module")
def api():
    server = CloudDnsApi(PROJECT, {MANAGED: ZONE + ".", "internal": "corp.spfguard.test."}, private=("internal",))
    yield server
    server.stop()


@pytest.fixture
def env(api, monkeypatch, tmp_path):
    api.credentials_file(tmp_path / "adc.json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "adc.json"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # not on Google Cloud: no metadata server to ask
    api.before_change, api.pending_reads = None, 1
    return api


def provider(api, **extra) -> CloudDnsProvider:
    return CloudDnsProvider({"api_endpoint": api.url, "verify": "api", **extra})


def rrdatas(values):
    return [quote([v[i:i + 255] for i in range(0, len(v), 255)]) for v in values]


class TestCloudDnsContract(ProviderContract):
    @pytest.fixture
    def provider(self, env):
        self.secret = env.private_key.splitlines()[1]
        return provider(env)

    @pytest.fixture
    def name(self):
        return f"g{next(_counter)}.{ZONE}"

    @pytest.fixture
    def backdoor(self, env):
        return lambda name, values: env.put(MANAGED, name + ".", rrdatas(values))


def test_one_change_whose_deletions_are_the_exact_live_sets(env):
    name, child = f"one{next(_counter)}.{ZONE}", f"_spf1.one.{ZONE}"
    env.put(MANAGED, name + ".", ['"keep=me"', '"v=spf1 -all"'], ttl=1234)
    provider(env).apply([Change(child, (), ("v=spf1 ip4:192.0.2.0/24 -all",)),
                         Change(name, ("keep=me", "v=spf1 -all"), ("keep=me", f"v=spf1 include:{child} -all"))])
    change = env.changes[-1]
    assert change["deletions"] == [{"name": name + ".", "type": "TXT", "ttl": "1234",
                                    "rrdatas": ['"keep=me"', '"v=spf1 -all"']}]
    assert sorted(a["name"] for a in change["additions"]) == sorted([child + ".", name + "."])
    assert env.rrsets[(MANAGED, name + ".")]["ttl"] == 1234  # the set keeps its TTL
    assert env.rrdatas(MANAGED, name + ".")[0] == '"keep=me"'  # and an unchanged value its exact rrdata


def test_cloud_dns_refuses_a_concurrent_change_whole(env):
    name, child = f"race{next(_counter)}.{ZONE}", f"_spf1.race.{ZONE}"
    env.put(MANAGED, name + ".", ['"v=spf1 -all"'])

    def someone_else():
        env.before_change = None
        env.put(MANAGED, name + ".", ['"v=spf1 ip4:203.0.113.9 -all"'])

    env.before_change = someone_else  # lands after spfguard's read, before Cloud DNS decides
    with pytest.raises(ConflictError) as info:
        provider(env).apply([Change(child, (), ("v=spf1 ip4:192.0.2.0/24 -all",)),
                             Change(name, ("v=spf1 -all",), (f"v=spf1 include:{child} -all",))])
    assert name in str(info.value)
    assert env.rrdatas(MANAGED, name + ".") == ['"v=spf1 ip4:203.0.113.9 -all"']
    assert env.rrdatas(MANAGED, child + ".") == []  # nothing of the Change was applied


def test_waits_until_the_change_is_done(env):
    env.pending_reads = 3
    name = f"wait{next(_counter)}.{ZONE}"
    provider(env).apply([Change(name, (), ("v=spf1 -all",))])
    change = env.changes[-1]
    assert change["status"] == "done" and change["reads"] == 4  # polled until Cloud DNS said done


def test_a_change_that_never_completes_is_exit_3_material(env):
    from spfguard.errors import IncompleteError

    env.pending_reads = 10_000
    with pytest.raises(IncompleteError, match="still 'pending'"):
        provider(env, wait=1).apply([Change(f"slow{next(_counter)}.{ZONE}", (), ("v=spf1 -all",))])


def test_rate_limited_then_success(env):
    env.throttle = 2
    before = len(env.requests)
    assert provider(env).read_txt(f"nothing.{ZONE}") == []
    assert len(env.requests) - before >= 3


def test_missing_and_refused_credentials_are_one_line(env, monkeypatch, tmp_path):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud configuration either
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    with pytest.raises(ProviderError, match="no Application Default Credentials: set GOOGLE_APPLICATION_CREDENTIALS"):
        provider(env).read_txt(f"x.{ZONE}")
    env.credentials_file(tmp_path / "deleted.json", client_email="deleted@example.iam.gserviceaccount.com")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "deleted.json"))
    with pytest.raises(ProviderError) as info:
        provider(env).read_txt(f"x.{ZONE}")
    assert "could not be refreshed" in str(info.value) and "\n" not in str(info.value)


def test_zones_private_ones_left_out(env, monkeypatch):
    assert provider(env).list_zones() == [ZONE]
    assert provider(env, verify="nameservers").authoritative(ZONE) == ["ns-cloud-a1.googledomains.com",
                                                                      "ns-cloud-a2.googledomains.com"]
    with pytest.raises(ProviderError, match="no public managed zone for a.corp.example"):
        provider(env).read_txt("a.corp.example")
    with pytest.raises(ProviderError, match="no public managed zone named 'internal'"):
        provider(env, managed_zone="internal").read_txt(f"a.corp.{ZONE}")
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(ProviderError, match="GOOGLE_CLOUD_PROJECT"):
        CloudDnsProvider({})


def test_fix_and_rollback_through_the_cli(env, tmp_path, capsys):
    name = f"bigco.{ZONE}"
    env.put(MANAGED, name + ".", rrdatas(ZoneFileProvider({"path": str(TEST_ZONES / f"{ZONE}.zone")}).read_txt(name)))
    original = env.rrdatas(MANAGED, name + ".")
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.gcloud]\napi_endpoint = "{env.url}"\nverify = "api"\n')
    args = [name, "--zone", str(DEMO_ZONES), "--zone", str(TEST_ZONES), "--provider", "gcloud", "--config",
            str(config), "--backup-dir", str(tmp_path / "b")]
    assert main(["fix", *args, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "lookups 15 → 9" in out and "verified at the gcloud provider" in out
    assert '"MS=ms12345678"' in env.rrdatas(MANAGED, name + ".")
    assert main(["fix", *args, "--apply"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    (backup,) = (tmp_path / "b").iterdir()
    assert main(["rollback", str(backup), "--provider", "gcloud", "--config", str(config), "--apply"]) == 0
    assert sorted(env.rrdatas(MANAGED, name + ".")) == sorted(original)
    everything = capsys.readouterr()
    for secret in (env.token, *env.private_key.splitlines()[1:-1]):
        assert secret not in everything.out + everything.err + backup.read_text()
    assert json.loads(backup.read_text())["provider"] == {"provider": "gcloud", "project": PROJECT,
                                                          "managed_zone": None}
