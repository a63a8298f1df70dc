"""Azure DNS provider through the official SDK (azure-mgmt-dns) and DefaultAzureCredential (an App Service managed
identity) against a local HTTPS stand-in for Resource Manager (tests/support/azure_arm.py, which says what it does
not reproduce): the contract, If-Match / If-None-Match on every write, Azure's own refusal of a concurrent change
with the names already written put back, 429 then success, no credential, and fix → rollback through the CLI."""

from __future__ import annotations

import itertools
import json

import pytest

pytest.importorskip("azure.mgmt.dns", reason="spfguard-azure is installed with the test extras")
from spfguard_azure import AzureDnsProvider  # noqa: E402

from spfguard.cli.main import main  # noqa: E402
from spfguard.provider.base import Change, ConflictError, ProviderError  # noqa: E402
from spfguard.provider.testing import ProviderContract  # noqa: E402
from spfguard.provider.zonefile import ZoneFileProvider  # noqa: E402
from tests.conftest import DEMO_ZONES, TEST_ZONES  # noqa: E402
from tests.support.azure_arm import AzureArm  # noqa: E402
from tests.support.smtp import make_certificates  # noqa: E402

SUBSCRIPTION = "8d2f0c1e-0000-4000-8000-5f0a5e1a2b3c"
ZONE, GROUP = "spfguard.test", "dns-rg"
_counter = itertools.count()


@pytest.fixture(scope="module")
def arm(tmp_path_factory):
    certificates = make_certificates(tmp_path_factory.mktemp("azure-tls"))
    server = AzureArm(SUBSCRIPTION, {ZONE: GROUP, "other.test": "other-rg"}, certificates.ca_signed)
    server.ca_file = certificates.ca_file
    yield server
    server.stop()


@pytest.fixture
def env(arm, monkeypatch):
    for variable in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
                     "MSI_ENDPOINT", "MSI_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{arm.url}/msi/token")  # an App Service managed identity
    monkeypatch.setenv("IDENTITY_HEADER", arm.identity_header)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(arm.ca_file))  # the stand-in's TLS certificate
    arm.before_write = None
    return arm


def provider(arm, **extra) -> AzureDnsProvider:
    return AzureDnsProvider({"base_url": arm.url, "verify": "api", **extra})


def relative(name: str) -> str:
    return name.removesuffix("." + ZONE)


class TestAzureContract(ProviderContract):
    @pytest.fixture
    def provider(self, env):
        self.secret = env.token
        return provider(env)

    @pytest.fixture
    def name(self):
        return f"a{next(_counter)}.{ZONE}"

    @pytest.fixture
    def backdoor(self, env):
        return lambda name, values: env.put(ZONE, relative(name), [[v[i:i + 255] for i in range(0, len(v), 255)]
                                                                   for v in values])


def test_every_write_is_conditional_on_the_set_that_was_read(env):
    name = f"cond{next(_counter)}.{ZONE}"
    p = provider(env)
    p.apply([Change(name, (), ("v=spf1 -all",))])
    etag = env.sets[(ZONE, relative(name))]["etag"]
    p.apply([Change(name, ("v=spf1 -all",), ("v=spf1 ~all",))])
    p.apply([Change(name, ("v=spf1 ~all",), ())])
    writes = [(m, h) for m, path, h in env.requests if m in ("PUT", "DELETE") and f"/TXT/{relative(name)}?" in path]
    assert [m for m, _ in writes] == ["PUT", "PUT", "DELETE"]
    assert writes[0][1].get("if-none-match") == "*"  # created only if still absent
    assert writes[1][1].get("if-match") == etag  # updated only if still the set that was read
    assert writes[2][1].get("if-match") not in (None, etag)  # deleted only if still the set we wrote


def test_azure_refuses_a_concurrent_change_and_the_names_already_written_are_put_back(env):
    name = f"race{next(_counter)}.{ZONE}"
    child = f"_spf1.{name}"
    env.put(ZONE, relative(name), [["v=spf1 -all"]])

    def someone_else(method, zone, rel):
        if rel == relative(name):  # between spfguard's read and its write of the apex
            env.before_write = None
            env.put(ZONE, relative(name), [["v=spf1 ip4:203.0.113.9 -all"]])

    env.before_write = someone_else
    plan = [Change(child, (), ("v=spf1 ip4:192.0.2.0/24 -all",)),
            Change(name, ("v=spf1 -all",), (f"v=spf1 include:{child} -all",))]
    with pytest.raises(ConflictError, match="refused the compare-and-set"):
        provider(env).apply(plan)
    assert env.txt(ZONE, relative(name)) == [["v=spf1 ip4:203.0.113.9 -all"]]  # their edit stands
    assert env.txt(ZONE, relative(child)) == []  # the child spfguard had written is gone again


def test_rate_limited_then_success(env):
    env.throttle = 2
    before = len(env.requests)
    assert provider(env).read_txt(f"nothing.{ZONE}") == []
    assert len(env.requests) - before >= 3  # two 429s (after Retry-After), then the answer


def test_no_credential_is_one_line(env, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("IDENTITY_ENDPOINT")
    monkeypatch.delenv("IDENTITY_HEADER")
    monkeypatch.setenv("PATH", "/nonexistent")  # no az, azd or pwsh to fall back on
    monkeypatch.setenv("HOME", str(tmp_path))  # no token cache
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.azure]\nbase_url = "{env.url}"\n')
    assert main(["inventory", "--provider", "azure", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "no usable Azure credential" in err and "az login" in err and len(err.strip().splitlines()) == 1


def test_missing_subscription_and_zone(env, monkeypatch):
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID")
    with pytest.raises(ProviderError, match="AZURE_SUBSCRIPTION_ID"):
        AzureDnsProvider({})
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    with pytest.raises(ProviderError, match="no zone for www.example.org"):
        provider(env).read_txt("www.example.org")
    with pytest.raises(ProviderError, match="HTTP 404: ParentResourceNotFound"):
        provider(env, zone="missing.test", resource_group=GROUP).read_txt("a.missing.test")


def test_the_zone_and_its_group_are_found_and_listed(env, capsys, tmp_path):
    assert provider(env).list_zones() == ["other.test", ZONE]
    assert provider(env, resource_group="other-rg").list_zones() == ["other.test"]
    assert provider(env).authoritative(ZONE) == []
    assert provider(env, verify="nameservers").authoritative(ZONE) == ["ns1-01.azure-dns.com", "ns2-01.azure-dns.net"]
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.azure]\nbase_url = "{env.url}"\n')
    assert main(["inventory", "--provider", "azure", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["other.test,,,azure,", f"{ZONE},,,azure,"]


def test_fix_and_rollback_through_the_cli(env, tmp_path, capsys):
    name = f"bigco.{ZONE}"
    values = ZoneFileProvider({"path": str(TEST_ZONES / f"{ZONE}.zone")}).read_txt(name)
    env.put(ZONE, "bigco", [[v[i:i + 255] for i in range(0, len(v), 255)] for v in values])
    env.sets[(ZONE, "bigco")]["metadata"] = {"owner": "mail-team"}
    original = env.txt(ZONE, "bigco")
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.azure]\nbase_url = "{env.url}"\nresource_group = "{GROUP}"\nverify = "api"\n')
    args = [name, "--zone", str(DEMO_ZONES), "--zone", str(TEST_ZONES), "--provider", "azure", "--config",
            str(config), "--backup-dir", str(tmp_path / "b")]
    assert main(["fix", *args, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "lookups 15 → 9" in out and "verified at the azure provider" in out
    assert ["MS=ms12345678"] in env.txt(ZONE, "bigco") and env.sets[(ZONE, "bigco")]["metadata"] == {
        "owner": "mail-team"}  # other values and the set's metadata kept
    assert main(["fix", *args, "--apply"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    (backup,) = (tmp_path / "b").iterdir()
    assert main(["rollback", str(backup), "--provider", "azure", "--config", str(config), "--apply"]) == 0
    assert sorted(env.txt(ZONE, "bigco")) == sorted(original)
    everything = capsys.readouterr()
    assert env.token not in everything.out + everything.err + backup.read_text()
    assert env.identity_header not in everything.out + everything.err + backup.read_text()
    assert json.loads(backup.read_text())["provider"] == {"provider": "azure", "subscription_id": SUBSCRIPTION,
                                                          "resource_group": GROUP}
