"""Issue #11: the README can never again ship a configuration that crashes. Every TOML block of the README and
every file in examples/ goes through the real loaders; the README's config and unit snippets are those files."""

from __future__ import annotations

import re
import tomllib

import pytest

from spfguard.config import load_config, validate_settings
from spfguard.connector.model import parse_connector
from spfguard.domains import load_domain_list
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
EXAMPLES = ROOT / "examples"
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, re.S)


def _load(data: dict, base=None, text: str = ""):
    if "connector" in data:
        return parse_connector(data)
    if "platforms" in data:  # a catalogue file
        import tempfile
        from pathlib import Path

        from spfguard.vendors.catalogue import read_catalogue_file

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "catalogue.toml"
            path.write_text(text)
            return read_catalogue_file(path)
    validate_settings(data, base=base)


@pytest.mark.parametrize("index", [i for i, (kind, _) in enumerate(BLOCKS) if kind == "toml"])
def test_every_toml_block_of_the_readme_loads(index):
    _load(tomllib.loads(BLOCKS[index][1]), base=EXAMPLES, text=BLOCKS[index][1])


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.toml")), ids=lambda p: p.name)
def test_every_example_config_loads(path):
    if "connector" not in path.read_text():
        load_config(path)
    _load(tomllib.loads(path.read_text()), base=path.parent)


def test_the_example_config_is_complete_and_in_the_readme():
    data = load_config(EXAMPLES / "spfguard.toml")
    assert set(data.raw) == {"check", "providers", "monitor", "alerts", "dmarc", "catalogue"}
    settings = data.require_monitor()
    assert {d.name for d in settings.domains} == {"aacn.org", "aacn-foundation.org", "example.com"}
    assert settings.alerts.route("aacn").sinks["webhook"].url != settings.alerts.default.sinks["webhook"].url
    assert (EXAMPLES / "spfguard.toml").read_text() in [body for kind, body in BLOCKS if kind == "toml"]


def test_the_systemd_units_are_in_the_readme():
    units = [body for kind, body in BLOCKS if kind == "ini"]
    service = (EXAMPLES / "systemd" / "spfguard-monitor.service").read_text()
    timer = (EXAMPLES / "systemd" / "spfguard-monitor.timer").read_text()
    assert any(service in body and timer in body for body in units)
    assert "--quiet" in service and "CacheDirectory=" in service


def test_the_cron_line_is_quiet():
    cron = next(body for kind, body in BLOCKS if "spfguard monitor" in body and "* *" in body)
    assert "--once --quiet" in cron


def test_example_domain_lists_load():
    for path in EXAMPLES.glob("*.csv"):
        assert load_domain_list(path)
