"""Issue #13: the Kubernetes manifests are valid for a current Kubernetes (kubernetes-validate's schemas), and the
CronJob runs the monitor the way the README says: an Indexed Job, --shard auto, SPFGUARD_SHARDS = completions."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from spfguard.config import validate_settings
from tests.conftest import ROOT

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="a test extra: pip install '.[test]'")

MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
VERSION = "1.33.0"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifests_are_valid_kubernetes(path):
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, VERSION, strict=True)


def test_the_cronjob_shards_by_index():
    job = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "cronjob.yaml").read_text())["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == job["parallelism"]
    container = job["template"]["spec"]["containers"][0]
    assert ["--shard", "auto"] == container["args"][container["args"].index("--shard"):][:2]
    shards = next(e["value"] for e in container["env"] if e["name"] == "SPFGUARD_SHARDS")
    assert int(shards) == job["completions"]


def test_the_configmap_holds_a_valid_config():
    data = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "configmap.yaml").read_text())["data"]
    config = tomllib.loads(data["spfguard.toml"])
    assert config["monitor"]["state"].startswith("postgresql://") and ":" not in config["monitor"]["state"][13:].split(
        "@")[0]  # no password in the URL
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "domains.csv").write_text(data["domains.csv"])
        validate_settings(config, base=Path(folder))
