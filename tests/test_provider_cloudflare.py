"""Cloudflare provider through the real SDK against a local v4 API server: the contract, 429 then success,
a 403 turned into a hint, a fix and its rollback, and no token anywhere in the output."""

from __future__ import annotations

import itertools
import json

import pytest
from spfguard_cloudflare import CloudflareProvider, content_strings

from spfguard.cli.main import main
from spfguard.provider.base import Change, ProviderError
from spfguard.provider.testing import ProviderContract
from spfguard.provider.zonefile import ZoneFileProvider
from tests.conftest import DEMO_ZONES, TEST_ZONES
from tests.support.cloudflare_api import GOOD_TOKEN, READ_ONLY_TOKEN, CloudflareApi

_counter = itertools.count()
ZONE_ID = "023e105f4ecef8ad9ca31a8372d0c353"


@pytest.fixture(scope="module")
def api():
    server = CloudflareApi({"spfguard.test": ZONE_ID})
    yield server
    server.stop()


@pytest.fixture
def env(api, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", api.url)
    return api


class TestCloudflareContract(ProviderContract):
    secret = GOOD_TOKEN
    exact_layout = False  # one content string per record; Cloudflare splits it into 255-byte strings itself

    @pytest.fixture
    def provider(self, env):
        return CloudflareProvider({"verify": "api"})

    @pytest.fixture
    def name(self):
        return f"c{next(_counter)}.spfguard.test"

    @pytest.fixture
    def backdoor(self, api):
        def write(name, values):
            for record in [r for r in api.records.values() if r["name"] == name]:
                del api.records[record["id"]]
            for value in values:
                api.add(name, value)

        return write


def test_quoted_content_is_understood():
    assert content_strings('"abc" "de\\"f"') == ("abc", 'de"f')
    assert content_strings("v=spf1 -all") == ("v=spf1 -all",)


def test_rate_limit_then_success(env):
    env.throttle = 2
    before = len(env.requests)
    provider = CloudflareProvider({"verify": "api"})
    assert provider.read_txt("nothing.spfguard.test") == []
    assert len(env.requests) - before >= 3  # two 429s answered, then the real requests


def test_forbidden_becomes_a_hint_without_the_token(api, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", READ_ONLY_TOKEN)
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", api.url)
    provider = CloudflareProvider()
    with pytest.raises(ProviderError) as info:
        provider.apply([Change("forbidden.spfguard.test", (), ("v=spf1 -all",))])
    message = str(info.value)
    assert "HTTP 403" in message and "Zone → DNS → Edit" in message and READ_ONLY_TOKEN not in message


def test_missing_token(monkeypatch):
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(ProviderError, match="no API token"):
        CloudflareProvider()
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", GOOD_TOKEN)
    assert GOOD_TOKEN not in repr(CloudflareProvider()) + repr(CloudflareProvider().describe())


def test_unreachable_api(monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", "http://127.0.0.1:9/client/v4")
    with pytest.raises(ProviderError, match="cannot reach the API"):
        CloudflareProvider({"retries": 0}).read_txt("x.spfguard.test")


def test_fix_and_rollback(env, tmp_path, capsys):
    source = ZoneFileProvider({"path": str(TEST_ZONES / "spfguard.test.zone")})
    for value in source.read_txt("bigco.spfguard.test"):
        env.add("bigco.spfguard.test", value)
    original = env.txt("bigco.spfguard.test")
    ids = sorted(r["id"] for r in env.records.values() if r["name"] == "bigco.spfguard.test")
    config = tmp_path / "spfguard.toml"
    config.write_text('[providers.cloudflare]\nverify = "api"\n')
    args = ["bigco.spfguard.test", "--zone", str(DEMO_ZONES), "--zone", str(TEST_ZONES), "--provider", "cloudflare",
            "--config", str(config), "--backup-dir", str(tmp_path / "b")]
    assert main(["fix", *args, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "lookups 15 → 9" in out and "verified at the cloudflare provider" in out
    assert sorted(r["id"] for r in env.records.values() if r["name"] == "bigco.spfguard.test") == ids  # edited
    assert "MS=ms12345678" in env.txt("bigco.spfguard.test")
    assert main(["fix", *args, "--apply"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    (backup,) = (tmp_path / "b").iterdir()
    assert main(["rollback", str(backup), "--provider", "cloudflare", "--config", str(config), "--apply"]) == 0
    assert env.txt("bigco.spfguard.test") == original
    everything = capsys.readouterr()
    assert GOOD_TOKEN not in everything.out + everything.err + backup.read_text()
    assert json.loads(backup.read_text())["provider"] == {"provider": "cloudflare", "zone_id": None}


@pytest.mark.parametrize("behaviour", ["trickle", "hang"])
def test_an_api_that_trickles_or_never_answers_fails_within_the_timeout(env, behaviour):
    import time

    provider = CloudflareProvider({"verify": "api", "timeout": 2, "retries": 0})
    env.misbehave = behaviour
    start = time.monotonic()
    try:
        with pytest.raises(ProviderError, match="no complete answer within 2s"):
            provider.read_txt("slow.spfguard.test")
    finally:
        env.misbehave = None
    assert time.monotonic() - start < 4


def test_a_write_that_never_becomes_visible_is_exit_3(env, tmp_path, capsys, monkeypatch):
    """The API accepts the write but goes on reading the old values: one line, exit 3 (written, not verified)."""
    import copy

    env.add("lag.spfguard.test", "v=spf1 ip4:192.0.2.1 ip4:192.0.2.1 -all")
    zone = tmp_path / "spfguard.test.zone"
    zone.write_text((TEST_ZONES / "spfguard.test.zone").read_text() +
                    'lag IN TXT "v=spf1 ip4:192.0.2.1 ip4:192.0.2.1 -all"\n')
    config = tmp_path / "spfguard.toml"
    config.write_text('[providers.cloudflare]\nverify = "api"\n')
    env.frozen = copy.deepcopy(env.records)
    try:
        code = main(["fix", "lag.spfguard.test", "--zone", str(zone), "--provider", "cloudflare", "--config",
                     str(config), "--apply", "--wait", "1", "--backup-dir", str(tmp_path)])
    finally:
        env.frozen = None
    err = capsys.readouterr().err
    assert code == 3 and "written, but lag.spfguard.test reads back" in err and len(err.strip().splitlines()) == 1
    assert env.txt("lag.spfguard.test") == ["v=spf1 ip4:192.0.2.1 -all"]


def test_the_changes_of_a_zone_are_one_batch_and_a_failed_batch_changes_nothing(env, tmp_path, capsys):
    name, child = "batch.spfguard.test", "_spf1.batch.spfguard.test"
    env.add(name, "v=spf1 -all")
    env.add(name, "keep=me")
    provider = CloudflareProvider({"verify": "api"})
    before = __import__("copy").deepcopy(env.records)
    plan = [Change(child, (), ("v=spf1 ip4:192.0.2.0/24 -all",)),
            Change(name, ("v=spf1 -all", "keep=me"), ("keep=me", f"v=spf1 include:{child} -all"))]
    env.fail_batch_after = 1  # the second operation of the batch fails on the server
    batches = len(env.batches)
    try:
        with pytest.raises(ProviderError, match="HTTP 400"):
            provider.apply(plan)
    finally:
        env.fail_batch_after = None
    assert env.records == before and env.txt(child) == []  # rolled back whole: nothing changed
    provider.apply(plan)
    (batch,) = env.batches[batches + 1:]  # the whole change of the zone in one request
    assert len(batch["patches"]) == 1 and len(batch["posts"]) == 1 and not batch["deletes"]
    assert env.txt(name) == sorted(["keep=me", f"v=spf1 include:{child} -all"])
    assert env.txt(child) == ["v=spf1 ip4:192.0.2.0/24 -all"]


def test_the_13_lookup_record_without_aaaa_is_fixed_through_cloudflare(env, tmp_path, capsys):
    env.add("v6over.spfguard.test", (TEST_ZONES / "spfguard.test.zone").read_text().split('v6over      IN TXT "')[1]
            .split('"')[0])
    config = tmp_path / "spfguard.toml"
    config.write_text('[providers.cloudflare]\nverify = "api"\n')
    code = main(["fix", "v6over.spfguard.test", "--zone", str(TEST_ZONES), "--provider", "cloudflare", "--config",
                 str(config), "--apply", "--backup-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "lookups 13 → 9" in out and "IPv6 senders: 4 void lookups" in out and "permerror for IPv6 senders" in out


def test_inventory_lists_the_zones(env, capsys):
    assert main(["inventory", "--provider", "cloudflare"]) == 0
    assert capsys.readouterr().out.splitlines() == ["domain,tenant,expect,provider,tags",
                                                    "spfguard.test,,,cloudflare,"]
