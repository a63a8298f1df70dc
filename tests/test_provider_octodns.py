"""The octoDNS bridge with octoDNS's real YamlProvider on files (DNS as code: nothing live is touched) and with
octodns-powerdns against the real PowerDNS server: the contract, the documented best-effort behaviour (a
compare before and after; an edit inside octoDNS's own plan-to-write window is overwritten; an edit elsewhere in
the zone is neither written nor reverted), a canonical YAML file changed only at the TXT entries, fix → rollback
through the CLI, broken configurations in one line, and no API key anywhere."""

from __future__ import annotations

import itertools
import json

import pytest

pytest.importorskip("octodns", reason="spfguard-octodns is installed with the test extras")
from octodns.yaml import safe_dump, safe_load  # noqa: E402
from spfguard_octodns import OctoDnsProvider  # noqa: E402

from spfguard.cli.main import main  # noqa: E402
from spfguard.provider.base import Change, ConflictError, ProviderError  # noqa: E402
from spfguard.provider.testing import ProviderContract  # noqa: E402
from spfguard.provider.zonefile import ZoneFileProvider  # noqa: E402
from tests.conftest import DEMO_ZONES, TEST_ZONES  # noqa: E402

ZONE = "spfguard.test"
_counter = itertools.count()

YAML_CONFIG = """---
providers:
  config:
    class: octodns.provider.yaml.YamlProvider
    directory: {directory}
    escaped_semicolons: true
zones:
  spfguard.test.:
    sources: [config]
    targets: [config]
"""

PDNS_CONFIG = """---
providers:
  pdns:
    class: octodns_powerdns.PowerDnsProvider
    host: 127.0.0.1
    port: {port}
    api_key: env/PDNS_API_KEY
zones:
  spfguard.test.:
    sources: [pdns]
    targets: [pdns]
"""


class YamlRepo:
    """An octoDNS YAML repository: the zone file, edited behind the provider's back as another admin would."""

    def __init__(self, directory):
        self.directory = directory
        self.file = directory / f"{ZONE}.yaml"
        directory.mkdir(exist_ok=True)
        if not self.file.exists():
            self.file.write_text("---\n'':\n  type: A\n  value: 192.0.2.10\n")
        (directory.parent / "octodns.yaml").write_text(YAML_CONFIG.format(directory=directory))
        self.config = directory.parent / "octodns.yaml"

    def load(self) -> dict:
        with self.file.open() as fh:
            return safe_load(fh) or {}

    def set_txt(self, name: str, values: list[str]) -> None:
        data = self.load()
        relative = name.removesuffix("." + ZONE) if name != ZONE else ""
        entries = data.get(relative, [])
        entries = [e for e in (entries if isinstance(entries, list) else [entries]) if e.get("type") != "TXT"]
        if values:
            entries.append({"type": "TXT", "values": [v.replace(";", "\\;") for v in values]})
        if entries:
            data[relative] = entries[0] if len(entries) == 1 else entries
        else:
            data.pop(relative, None)
        with self.file.open("w") as fh:
            safe_dump(data, fh)


@pytest.fixture
def repo(tmp_path):
    return YamlRepo(tmp_path / "zones")


class TestOctoDnsYamlContract(ProviderContract):
    secret = "no secret: the YamlProvider has none"
    exact_layout = False  # octoDNS joins a value's strings and splits them at 255 octets itself

    @pytest.fixture
    def provider(self, repo):
        return OctoDnsProvider({"config": str(repo.config), "target": "config"})

    @pytest.fixture
    def name(self):
        return f"y{next(_counter)}.{ZONE}"

    @pytest.fixture
    def backdoor(self, repo):
        return repo.set_txt


@pytest.fixture
def pdns_config(pdns, tmp_path, monkeypatch):
    monkeypatch.setenv("PDNS_API_KEY", pdns.api_key)
    config = tmp_path / "octodns.yaml"
    config.write_text(PDNS_CONFIG.format(port=pdns.api_port))
    return config


class TestOctoDnsPowerDnsContract(ProviderContract):
    exact_layout = False

    @pytest.fixture
    def provider(self, pdns, pdns_config):
        self.secret = pdns.api_key
        return OctoDnsProvider({"config": str(pdns_config), "target": "pdns"})

    @pytest.fixture
    def name(self):
        return f"o{next(_counter)}.{ZONE}"

    @pytest.fixture
    def backdoor(self, pdns):
        return lambda name, values: pdns.set_txt(name, values, ZONE)


def test_a_long_value_reaches_powerdns_as_255_byte_strings(pdns, pdns_config):
    from spfguard.provider.testing import LONG
    from tests.test_provider_powerdns import served

    name = f"olong{next(_counter)}.{ZONE}"
    OctoDnsProvider({"config": str(pdns_config), "target": "pdns"}).apply([Change(name, (), (LONG, "a;b"))])
    long_strings = [s for s in served(pdns, name) if len(s) > 1][0]
    assert b"".join(long_strings).decode() == LONG and [len(s) for s in long_strings][:-1] == [255] * (
        len(long_strings) - 1)
    assert (b"a;b",) in served(pdns, name)  # octoDNS's escaped semicolon is a plain one in DNS


def test_an_edit_inside_octodns_own_window_is_overwritten(pdns, pdns_config, monkeypatch):
    """The documented best effort: octoDNS writes unconditionally, so an edit of the same set between its read for
    the plan and its write is lost; every edit before that read is caught."""
    name = f"orace{next(_counter)}.{ZONE}"
    pdns.set_txt(name, ["v=spf1 -all"], ZONE)
    provider = OctoDnsProvider({"config": str(pdns_config), "target": "pdns"})
    real_apply = provider.target.apply

    def apply(plan):
        pdns.set_txt(name, ["v=spf1 ip4:203.0.113.9 -all"], ZONE)  # someone else, just in time
        return real_apply(plan)

    monkeypatch.setattr(provider.target, "apply", apply)
    provider.apply([Change(name, ("v=spf1 -all",), ("v=spf1 ~all",))])
    assert provider.read_txt(name) == ["v=spf1 ~all"]


def test_an_edit_elsewhere_in_the_zone_is_neither_written_nor_reverted(repo, monkeypatch):
    repo.set_txt(f"mine.{ZONE}", ["v=spf1 -all"])
    provider = OctoDnsProvider({"config": str(repo.config), "target": "config"})
    real_read = provider._read_zone

    def read(zone):  # another admin commits a change right after spfguard compared the values
        existing = real_read(zone)
        repo.set_txt(f"theirs.{ZONE}", ["google-site-verification=xyz"])
        return existing

    monkeypatch.setattr(provider, "_read_zone", read)
    provider.apply([Change(f"mine.{ZONE}", ("v=spf1 -all",), ("v=spf1 ~all",))])
    data = repo.load()
    assert data["theirs"] == {"type": "TXT", "values": ["google-site-verification=xyz"]}  # theirs kept as written
    assert data["mine"] == {"type": "TXT", "values": ["v=spf1 ~all"]}  # only the value changed, in place


def test_a_canonical_yaml_changes_only_at_the_txt_entries(repo, tmp_path, capsys):
    name = f"bigco.{ZONE}"
    values = ZoneFileProvider({"path": str(TEST_ZONES / f"{ZONE}.zone")}).read_txt(name)
    data = {"": {"type": "A", "value": "192.0.2.10"}, "www": {"type": "CNAME", "value": "spfguard.test."},
            "bigco": [{"type": "MX", "value": {"exchange": "mx.spfguard.test.", "preference": 10}},
                      {"type": "TXT", "values": sorted(v.replace(";", "\\;") for v in values)}],
            "_dmarc.bigco": {"type": "TXT", "value": "v=DMARC1\\; p=none"}}
    with repo.file.open("w") as fh:
        safe_dump(data, fh)
    original = repo.file.read_text()
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.octodns]\nconfig = "{repo.config}"\ntarget = "config"\n')
    args = [name, "--zone", str(DEMO_ZONES), "--zone", str(TEST_ZONES), "--provider", "octodns", "--config",
            str(config), "--backup-dir", str(tmp_path / "b")]
    assert main(["fix", *args, "--apply"]) == 0
    out = capsys.readouterr().out
    assert "lookups 15 → 9" in out and "not live yet: written to the YAML of 'config'" in out
    assert "octodns-sync --config-file" in out
    after = repo.file.read_text()
    head, tail = "- type: TXT\n  values:\n", "www:\n"  # the TXT entry of bigco lies between the two
    assert after != original and after.split(head)[0] == original.split(head)[0]
    assert after.split(tail)[1] == original.split(tail)[1]
    assert "v=DMARC1\\; p=none" in repo.file.read_text()  # the other names untouched
    assert main(["fix", *args, "--apply"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    (backup,) = (tmp_path / "b").iterdir()
    assert main(["rollback", str(backup), "--provider", "octodns", "--config", str(config), "--apply"]) == 0
    assert repo.load() == data  # the values restored; the long value now on one line where PyYAML had folded it
    restored = repo.file.read_text().splitlines()
    assert [line for line in original.splitlines() if line not in restored and "include:" not in line] == []
    assert json.loads(backup.read_text())["provider"] == {"provider": "octodns", "config": str(repo.config),
                                                          "target": "config"}


def test_fix_and_rollback_through_octodns_powerdns(pdns, pdns_config, tmp_path, capsys):
    from tests.test_provider_powerdns import served

    name = f"obig.{ZONE}"
    values = ZoneFileProvider({"path": str(TEST_ZONES / f"{ZONE}.zone")}).read_txt(f"bigco.{ZONE}")
    pdns.set_txt(name, [v.replace("bigco.", "obig.") for v in values], ZONE)
    zone = tmp_path / f"{ZONE}.zone"
    zone.write_text((TEST_ZONES / f"{ZONE}.zone").read_text().replace("\nbigco ", "\nobig ").replace(
        "bigco.spfguard.test", "obig.spfguard.test"))
    original = served(pdns, name)
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.octodns]\nconfig = "{pdns_config}"\ntarget = "pdns"\n')
    args = [name, "--zone", str(DEMO_ZONES), "--zone", str(zone), "--provider", "octodns", "--config", str(config),
            "--backup-dir", str(tmp_path / "b")]
    assert main(["fix", *args, "--apply"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "lookups 15 → 9" in out and "not live yet" not in out
    assert served(pdns, name) != original
    (backup,) = (tmp_path / "b").iterdir()
    assert main(["rollback", str(backup), "--provider", "octodns", "--config", str(config), "--apply"]) == 0
    assert served(pdns, name) == original
    everything = capsys.readouterr()
    assert pdns.api_key not in everything.out + everything.err + backup.read_text()


@pytest.mark.parametrize(("setup", "message"), [
    (lambda tmp: {"target": "x"}, "set \\[providers.octodns\\] config"),
    (lambda tmp: {"config": str(tmp / "missing.yaml"), "target": "x"}, "does not exist"),
    (lambda tmp: {"config": str(_write(tmp / "bad.yaml", "providers: [")), "target": "x"}, "bad.yaml"),
    (lambda tmp: {"config": str(_write(tmp / "c.yaml", YAML_CONFIG.format(directory=tmp))), "target": "route53"},
     "no provider named 'route53'"),
])
def test_broken_configurations_are_one_line(tmp_path, setup, message):
    with pytest.raises(ProviderError, match=message) as info:
        OctoDnsProvider(setup(tmp_path)).read_txt(f"x.{ZONE}")
    assert "\n" not in str(info.value)


def test_a_name_outside_the_configured_zones(repo):
    with pytest.raises(ProviderError, match="no zone for www.example.org"):
        OctoDnsProvider({"config": str(repo.config), "target": "config"}).read_txt("www.example.org")


def test_a_stale_plan_is_refused_before_octodns_plans(repo):
    repo.set_txt(f"stale.{ZONE}", ["v=spf1 ~all"])
    provider = OctoDnsProvider({"config": str(repo.config), "target": "config"})
    with pytest.raises(ConflictError):
        provider.apply([Change(f"stale.{ZONE}", ("v=spf1 -all",), ("v=spf1 +all",))])
    assert repo.load()["stale"]["values"] == ["v=spf1 ~all"]  # untouched


def _write(path, text):
    path.write_text(text)
    return path
