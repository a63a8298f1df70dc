"""Issue #24: where DNS is code — spfguard's SpfValidator inside the real octoDNS CLI (octodns-validate and a dry-run
octodns-sync), YAML edits that keep the file (on a real octoDNS zone of the Kubernetes project, read-only in
../shared), a draft audited with ``check --record``, SARIF 2.1.0 validated against its schema, JUnit read by a JUnit
reader, the GitHub Action's check step run as a script, and the pre-commit hook's command."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spfguard.cli.main import main
from tests.conftest import DEMO_ZONES, ROOT, shared_file

pytest.importorskip("octodns", reason="octoDNS is installed with the spfguard-octodns plugin (make test)")

BIN = Path(sys.executable).parent
INCLUDES = " ".join(f"include:v{n}.vendors.test" for n in range(1, 13))
ZONE_YAML = f"""---
# the apex: mail is Google's; SPF lists every sender (@dns-team)
'':
  - type: A
    value: 192.0.2.10  # the web server
  - type: TXT
    values:
    - google-site-verification=abc123
    # keep the SPF record last (@dns-team)
    - v=spf1 {INCLUDES} -all

# the web site
www:
  type: CNAME
  value: example.test.
"""


def _vendors(folder: Path) -> Path:
    zone = folder / "vendors.test.zone"
    zone.write_text("$ORIGIN vendors.test.\n$TTL 300\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\n" + "".join(
        f'v{n} IN TXT "v=spf1 ip4:198.18.{100 + n}.0/24 -all"\n' for n in range(1, 13)))
    return zone


@pytest.fixture
def repo(tmp_path):
    """A DNS-as-code repository: an octoDNS config with spfguard's processor and validator, the zone in YAML, and
    the vendors' zone file standing in for live DNS."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "example.test.yaml").write_text(ZONE_YAML)
    (tmp_path / "zones").mkdir()
    _vendors(tmp_path / "zones")
    spf = "    class: spfguard.octodns.SpfValidator\n    zones: [zones/vendors.test.zone]\n"
    (tmp_path / "octodns.yaml").write_text(f"""---
providers:
  config:
    class: octodns.provider.yaml.YamlProvider
    directory: ./config
    escaped_semicolons: true
  out:
    class: octodns.provider.yaml.YamlProvider
    directory: ./out
    escaped_semicolons: true
processors:
  spf:
{spf}validators:
  spfguard-spf:
{spf}zones:
  example.test.:
    sources: [config]
    processors: [spf]
    targets: [out]
""")
    (tmp_path / "spfguard.toml").write_text('[providers.octodns]\nconfig = "octodns.yaml"\ntarget = "config"\n')
    return tmp_path


def octodns(command: str, repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / command), "--config-file", "octodns.yaml", *args], cwd=repo,
                          capture_output=True, text=True, timeout=120)


def test_octodns_validate_fails_on_12_lookups_and_passes_after_fix(repo, monkeypatch):
    before = octodns("octodns-validate", repo)
    assert before.returncode != 0 and "too-many-lookups" in before.stdout + before.stderr, before.stderr[-2000:]
    sync = octodns("octodns-sync", repo)  # a dry run: the plan fails with the processor's findings
    assert sync.returncode != 0 and "example.test. too-many-lookups: 12" in sync.stderr, sync.stderr[-2000:]
    monkeypatch.chdir(repo)
    code = main(["fix", "example.test", "--provider", "octodns", "--apply", "--config", "spfguard.toml", "--zone",
                 "zones", "--backup-dir", str(repo / "backups"), "--wait", "0"])
    assert code in (0, 3)  # written to the YAML (published later by octodns-sync --doit)
    after = octodns("octodns-validate", repo)
    assert after.returncode == 0, after.stderr[-2000:]
    text = (repo / "config" / "example.test.yaml").read_text()
    removed = [line for line in difflib.ndiff(ZONE_YAML.splitlines(), text.splitlines()) if line.startswith("- ")]
    assert removed == ["- " + f"    - v=spf1 {INCLUDES} -all"], removed  # the SPF line, nothing else
    assert text.count("#") == ZONE_YAML.count("#")  # every comment kept


def test_the_yaml_edit_of_a_real_zone_changes_only_the_spf_line(tmp_path):
    from spfguard_octodns import OctoDnsProvider

    from spfguard.provider import Change

    real = shared_file("realdata", "zones", "kubernetes-k8s.io", "kubernetes.io._0_base.yaml")
    (tmp_path / "config").mkdir()
    original = real.read_text()
    (tmp_path / "config" / "kubernetes.io.yaml").write_text(original)
    (tmp_path / "octodns.yaml").write_text(  # the Kubernetes zone is not in octoDNS's natural order: not enforced
        "---\nproviders:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n"
                                           f"    directory: {tmp_path / 'config'}\n    escaped_semicolons: true\n"
                                           "    enforce_order: false\n"  # the Kubernetes zone is not in natural order
        "zones:\n  kubernetes.io.:\n    sources: [config]\n    targets: [config]\n")
    provider = OctoDnsProvider({"config": str(tmp_path / "octodns.yaml"), "target": "config"})
    before = provider.read_txt("kubernetes.io")
    spf = next(v for v in before if v.startswith("v=spf1"))
    after = tuple(v if v != spf else "v=spf1 include:_spf.google.com -all" for v in before)
    provider.apply([Change("kubernetes.io", tuple(before), after),
                    Change("_spf1.kubernetes.io", (), ("v=spf1 ip4:198.18.7.0/24 -all",))])
    edited = (tmp_path / "config" / "kubernetes.io.yaml").read_text()
    diff = [line for line in difflib.ndiff(original.splitlines(), edited.splitlines()) if line[:2] in ("- ", "+ ")]
    assert [line for line in diff if line.startswith("- ")] == ["-     - v=spf1 include:_spf.google.com ~all"]
    added = [line for line in diff if line.startswith("+ ")]
    assert "+     - v=spf1 include:_spf.google.com -all" in added and "+ _spf1:" in added and len(added) == 4
    assert sorted(provider.read_txt("kubernetes.io")) == sorted(after)  # octoDNS reads it back, order enforced
    assert provider.read_txt("_spf1.kubernetes.io") == ["v=spf1 ip4:198.18.7.0/24 -all"]


# ---- a draft, and the formats CI reads ----------------------------------------------------------------------

def test_check_a_draft_record_before_it_is_published(tmp_path, capsys):
    draft = "v=spf1 " + " ".join(f"include:{d}" for d in (
        "spf.protection.outlook.com", "_spf.google.com", "sendgrid.net", "mailgun.org", "servers.mcsv.net",
        "amazonses.com", "spf.mandrillapp.com", "_spf.salesforce.com", "spf.smtp2go.com", "mail.zendesk.com",
        "us._netblocks.mimecast.com")) + " -all"
    assert main(["check", "aacn.org", "--zone", str(DEMO_ZONES), "--record", draft, "-f", "json"]) == 1
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["record"] == draft and result["lookups"] == 11 and result["verdict"] == "permerror"
    quoted = tmp_path / "draft.txt"
    quoted.write_text('"v=spf1 include:spf.protection.outlook.com " \n "include:_spf.google.com -all"\n')
    assert main(["check", "aacn.org", "--zone", str(DEMO_ZONES), "--record-file", str(quoted), "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["lookups"] == 2
    assert main(["check", "aacn.org", "example.com", "--zone", str(DEMO_ZONES), "--record", draft]) == 2
    assert main(["check", "aacn.org", "--zone", str(DEMO_ZONES), "--record", "include:x -all"]) == 2
    assert "must start with v=spf1" in capsys.readouterr().err
    assert main(["fix", "aacn.org", "--zone", str(DEMO_ZONES), "--record", draft]) == 0
    assert "flatten" in capsys.readouterr().out
    assert main(["fix", "aacn.org", "--zone", str(DEMO_ZONES), "--record", draft, "--provider", "zonefile",
                 "--apply"]) == 2
    assert "draft" in capsys.readouterr().err


def test_sarif_validates_against_the_sarif_2_1_0_schema(tmp_path, capsys):
    import jsonschema

    schema = json.loads((ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text())
    zones = tmp_path / "zones"
    shutil.copytree(DEMO_ZONES, zones)
    (zones / "aacn.org.zone").write_text((zones / "aacn.org.zone").read_text().replace(
        'include:_spf.protection.outlook.com ~all"',
        'include:_spf.protection.outlook.com" " include:spf.mandrillapp.com include:servers.mcsv.net ~all"'))
    code = main(["check", "aacn.org", "--zone", str(zones), "-f", "sarif"])
    log = json.loads(capsys.readouterr().out)
    jsonschema.Draft4Validator(schema).validate(log)
    assert code == 1
    results = log["runs"][0]["results"]
    over = next(r for r in results if r["ruleId"] == "too-many-lookups")
    location = over["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("aacn.org.zone") and location["region"]["startLine"] == 8
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[over["ruleIndex"]]["id"] == "too-many-lookups" and over["level"] == "error"
    code = main(["check-zones", str(zones / "aacn.org.zone"), "--offline", "-f", "sarif"])  # names outside: temp
    jsonschema.Draft4Validator(schema).validate(json.loads(capsys.readouterr().out))
    assert code in (1, 3)


def test_junit_is_read_by_a_junit_reader(tmp_path, capsys):
    junitparser = pytest.importorskip("junitparser")
    out = tmp_path / "report.xml"
    zones = tmp_path / "zones"
    shutil.copytree(DEMO_ZONES, zones)
    (zones / "bad.test.zone").write_text('$ORIGIN bad.test.\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\n'
                                         '@ IN TXT "v=spf1 ip4:192.0.2.300 -all"\n')
    code = main(["check", "aacn.org", "bad.test", "--zone", str(zones), "-f", "junit", "-o", str(out)])
    assert code == 1
    suites = junitparser.JUnitXml.fromfile(str(out))
    cases = {case.name: case for suite in suites for case in suite}
    assert set(cases) == {"aacn.org", "bad.test"}
    assert cases["aacn.org"].is_passed and not cases["bad.test"].is_passed
    assert any(r.type == "syntax-error" for r in cases["bad.test"].result)


def test_the_actions_check_step_runs_as_a_script(repo, tmp_path):
    """action.yml's steps, run here as the runner would (inputs substituted; the install step finds spfguard
    installed already)."""
    import re

    import yaml

    action = yaml.safe_load((ROOT / "action.yml").read_text())
    zones = tmp_path / "zones-copy"
    shutil.copytree(DEMO_ZONES, zones)
    inputs = {"zones": str(zones), "octodns-config": "", "fail-on": "error", "sarif": str(tmp_path / "out.sarif"),
              "spfguard-version": "spfguard", "upload-sarif": "false"}
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    for step in action["runs"]["steps"]:
        if "run" not in step:
            continue
        script = re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], step["run"])
        script = script.replace("${{ github.action_path }}", str(ROOT))
        step_env = {k: re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], v)
                    for k, v in (step.get("env") or {}).items()}
        done = subprocess.run(["bash", "-c", script.replace("python3 ", f"{sys.executable} ")], capture_output=True,
                              text=True, env={**env, **step_env}, timeout=300, cwd=repo)
        last = done
    assert last.returncode == 0, last.stderr[-2000:]  # the fixture zones hold no error at fail-on error
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    assert sarif["version"] == "2.1.0" and "aacn.org" in last.stdout
    # with the octoDNS config of the repository: its validator fails the step
    inputs.update({"zones": "", "octodns-config": "octodns.yaml"})
    step = action["runs"]["steps"][1]
    step_env = {k: re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], v)
                for k, v in step["env"].items()}
    done = subprocess.run(["bash", str(ROOT / "ci" / "action-check.sh")], capture_output=True, text=True,
                          env={**env, **step_env}, timeout=300, cwd=repo)
    assert done.returncode == 1 and "too-many-lookups" in done.stdout + done.stderr


def test_the_pre_commit_hook_runs_on_zone_files(tmp_path):
    import shlex

    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    zone = tmp_path / "bad.test.zone"
    zone.write_text('$ORIGIN bad.test.\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\n'
                    '@ IN TXT "v=spf1 a:x.bad.test a:y.bad.test a:z.bad.test -all"\n')
    command = shlex.split(hook["entry"])
    command[0] = str(BIN / command[0])
    done = subprocess.run([*command, "--offline", str(zone)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "too-many-void-lookups" in done.stdout, done.stdout + done.stderr
    import re

    assert re.search(hook["files"], zone.name) and hook["pass_filenames"] is True
