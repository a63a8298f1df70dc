"""Route 53 provider against moto in server mode (boto3 over HTTP on loopback): the contract, an over-limit
domain fixed and rolled back, a record over 255 bytes, and a concurrent edit that must abort."""

from __future__ import annotations

import itertools
import json
import os

import boto3
import pytest
from spfguard_route53 import Route53Provider, format_value, parse_value

from spfguard.cli.main import main
from spfguard.provider.base import Change, ProviderError
from spfguard.provider.testing import ProviderContract
from tests.conftest import DEMO_ZONES, TEST_ZONES
from tests.support.moto import MotoServer

SECRET = "moto-secret-key-0123456789abcdef"
_counter = itertools.count()


@pytest.fixture(scope="module")
def moto_env():
    server = MotoServer().start()
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION", "AWS_PROFILE")}
    os.environ.update(AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID="AKIDTESTING", AWS_SECRET_ACCESS_KEY=SECRET,
                      AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    client = boto3.client("route53")
    zone = client.create_hosted_zone(Name="spfguard.test.", CallerReference="spfguard-tests")
    yield client, zone["HostedZone"]["Id"].split("/")[-1]
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def set_txt(client, zone_id, name, values):
    current = client.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=name + ".",
                                               StartRecordType="TXT", MaxItems="1")["ResourceRecordSets"]
    current = [r for r in current if r["Name"] == name + "." and r["Type"] == "TXT"]
    if values:
        change = {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": name + ".", "Type": "TXT", "TTL": 300,
            "ResourceRecords": [{"Value": v if v.startswith('"') else format_value([v])} for v in values]}}
    elif current:
        change = {"Action": "DELETE", "ResourceRecordSet": current[0]}
    else:
        return
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [change]})


class TestRoute53Contract(ProviderContract):
    secret = SECRET

    @pytest.fixture
    def provider(self, moto_env):
        return Route53Provider({"verify": "api"})

    @pytest.fixture
    def name(self):
        return f"c{next(_counter)}.spfguard.test"

    @pytest.fixture
    def backdoor(self, moto_env):
        client, zone_id = moto_env
        return lambda name, values: set_txt(client, zone_id, name, values)


def test_value_format_round_trip():
    assert parse_value('"abc" "d\\"e\\\\f"') == ("abc", 'd"e\\f')
    assert format_value(["abc", 'd"e']) == '"abc" "d\\"e"'


def test_finds_the_zone_by_longest_suffix(moto_env):
    client, zone_id = moto_env
    client.create_hosted_zone(Name="sub.spfguard.test.", CallerReference="sub")
    provider = Route53Provider()
    assert provider.zone_id("a.b.spfguard.test") == zone_id
    assert provider.zone_of("x.sub.spfguard.test") == "sub.spfguard.test"
    with pytest.raises(ProviderError, match="no public hosted zone for example.org"):
        provider.zone_id("example.org")


def test_missing_credentials_is_a_clear_error(moto_env, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ProviderError, match="no AWS credentials"):
        Route53Provider({"zone_id": "Z1"}).read_txt("x.spfguard.test")


def seed_bigco(client, zone_id):
    """The over-limit domain of the test zone file, as it is in the hosted zone."""
    from spfguard.provider.zonefile import ZoneFileProvider

    source = ZoneFileProvider({"path": str(TEST_ZONES / "spfguard.test.zone")})
    strings = source.read_txt_strings("bigco.spfguard.test")
    set_txt(client, zone_id, "bigco.spfguard.test", [format_value(list(s)) for s in strings])
    return strings


def test_fix_and_rollback(moto_env, tmp_path, capsys):
    client, zone_id = moto_env
    original = seed_bigco(client, zone_id)
    config = tmp_path / "spfguard.toml"
    config.write_text('[providers.route53]\nverify = "api"\n')
    args = ["bigco.spfguard.test", "--zone", str(DEMO_ZONES), "--zone", str(TEST_ZONES), "--provider", "route53",
            "--config", str(config), "--expect", "microsoft365", "--backup-dir", str(tmp_path / "b"),
            "--flatten", "always"]
    assert main(["fix", *args, "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["lookups"]["after"] <= 10 and plan["verdict"].startswith("equivalent")
    assert main(["fix", *args, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "verified at the route53 provider" in out
    provider = Route53Provider({"verify": "api"})
    (chain,) = provider.read_txt_strings("_spf1.bigco.spfguard.test")
    assert len(chain) > 1 and all(len(s) <= 255 for s in chain)  # a record over 255 bytes, several strings
    assert main(["fix", *args, "--apply"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    (backup,) = (tmp_path / "b").iterdir()
    assert SECRET not in backup.read_text()
    assert main(["rollback", str(backup), "--provider", "route53", "--config", str(config), "--apply"]) == 0
    assert provider.read_txt_strings("bigco.spfguard.test") == original
    assert provider.read_txt("_spf1.bigco.spfguard.test") == []
    assert SECRET not in capsys.readouterr().out


def test_concurrent_edit_aborts(moto_env, tmp_path, capsys):
    client, zone_id = moto_env
    seed_bigco(client, zone_id)
    args = ["bigco.spfguard.test", "--zone", str(DEMO_ZONES), "--zone", str(TEST_ZONES), "--provider", "route53",
            "--format", "json"]
    assert main(["fix", *args]) == 0
    plan = json.loads(capsys.readouterr().out)
    changes = [Change(c["name"], tuple(c["before"]), tuple(c["after"])) for c in plan["changes"]]
    set_txt(client, zone_id, "bigco.spfguard.test", ["v=spf1 -all"])  # another admin, meanwhile
    with pytest.raises(ProviderError, match="changed since the plan was made"):
        Route53Provider().apply(changes)
    assert Route53Provider().read_txt("bigco.spfguard.test") == ["v=spf1 -all"]


@pytest.mark.parametrize("env, words", [
    ({"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}, "no AWS credentials found"),
    ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "cannot reach the Route 53 API"),
    ({"AWS_DEFAULT_REGION": "", "AWS_REGION": ""}, None),  # no region: Route 53 is global, signed for us-east-1
])
def test_credentials_region_and_endpoint_problems_are_one_line(moto_env, monkeypatch, tmp_path, capsys, env, words):
    monkeypatch.setenv("HOME", str(tmp_path))  # no shared config or credentials files
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for key, value in env.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    code = main(["fix", "r53creds.spfguard.test", "--zone", str(TEST_ZONES), "--provider", "route53"])
    err = capsys.readouterr().err
    if words is None:
        assert "region" not in err and "internal error" not in err
        return
    assert code == 1 and words in err and len(err.strip().splitlines()) == 1 and SECRET not in err


def seed(client, zone_id, name):
    from spfguard.provider.zonefile import ZoneFileProvider

    source = ZoneFileProvider({"path": str(TEST_ZONES / "spfguard.test.zone")})
    set_txt(client, zone_id, name, [format_value(list(s)) for s in source.read_txt_strings(name)])


def test_an_edit_between_the_read_and_the_batch_is_refused_by_route53(moto_env, monkeypatch, tmp_path, capsys):
    """One change batch: DELETE of the exact set read + CREATE. Another admin's edit that lands after the provider
    read the set and before the batch: Route 53 refuses the whole batch — the chained child is not created, the
    admin's value survives."""
    client, zone_id = moto_env
    seed_bigco(client, zone_id)
    name = "bigco.spfguard.test"
    original = Route53Provider._rrset
    raced = []

    def read_then_someone_edits(self, n):
        rrset = original(self, n)
        if n == name and raced == ["planned"]:  # the read inside the write, after planning
            raced.append("edited")
            set_txt(client, zone_id, name, ["v=spf1 -all", "another-admin=was-here"])
        return rrset

    monkeypatch.setattr(Route53Provider, "_rrset", read_then_someone_edits)
    monkeypatch.setattr(Route53Provider, "check", lambda self, changes: raced.append("planned"))
    code = main(["fix", name, "--zone", str(DEMO_ZONES), "--zone", str(TEST_ZONES), "--provider", "route53",
                 "--flatten", "always", "--apply", "--backup-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert raced == ["planned", "edited"]
    assert code == 1 and "bigco.spfguard.test changed since the plan was made" in err
    monkeypatch.undo()
    provider = Route53Provider()
    assert sorted(provider.read_txt(name)) == ["another-admin=was-here", "v=spf1 -all"]
    assert provider.read_txt("_spf1.bigco.spfguard.test") == []  # nothing else was written


def test_the_13_lookup_record_without_aaaa_is_fixed_through_route53(moto_env, tmp_path, capsys):
    client, zone_id = moto_env
    seed(client, zone_id, "v6over.spfguard.test")
    config = tmp_path / "spfguard.toml"
    config.write_text('[providers.route53]\nverify = "api"\n')
    code = main(["fix", "v6over.spfguard.test", "--zone", str(TEST_ZONES), "--provider", "route53", "--config",
                 str(config), "--apply", "--backup-dir", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "lookups 13 → 9" in out and "IPv6 senders: 4 void lookups" in out and "permerror for IPv6 senders" in out
    assert "include:o1.spfguard.test" not in Route53Provider().read_txt("v6over.spfguard.test")[0]


def test_inventory_lists_the_public_zones(moto_env, tmp_path, capsys):
    client, _ = moto_env
    client.create_hosted_zone(Name="private.internal.", CallerReference="private",
                              VPC={"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"},
                              HostedZoneConfig={"PrivateZone": True})
    client.create_hosted_zone(Name="second.example.", CallerReference="second")
    out = tmp_path / "domains.csv"
    out.write_text("domain,tenant,expect,provider,tags\nsecond.example,acme,microsoft365,route53,vip\n"
                   "gone.example,acme,,route53,\n")
    assert main(["inventory", "--provider", "route53", "--output", str(out), "--tenant", "newco"]) == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "domain,tenant,expect,provider,tags"
    assert "second.example,acme,microsoft365,route53,vip" in rows  # refreshed: its columns kept
    assert "spfguard.test,newco,,route53," in rows and not any("private.internal" in r for r in rows)
    assert "gone.example is no longer in the route53 account" in capsys.readouterr().err
