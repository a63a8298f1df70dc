"""The CLI on the fixture zones: output, JSON schema, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import jsonschema
import pytest

from spfguard.cli.main import main
from tests.conftest import DEMO_ZONES, TEST_ZONES


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def schema():
    return json.loads(resources.files("spfguard").joinpath("schema/check.schema.json").read_text())


def test_check_table_shows_record_parse_count_and_verdict(capsys):
    code, out, err = run(capsys, "check", "aacn.org", "--zone", str(DEMO_ZONES))
    assert code == 0, err
    assert "v=spf1 ip4:23.103.224.0/19" in out
    assert "lookups 9/10" in out and "verdict: valid" in out and "IPv6 2/2" in out
    assert "include:_spf.protection.outlook.com" in out and "near-lookup-limit" in out
    assert "DMARC: p=none" in out and "dmarc-policy-none" in out


def test_check_fail_on_warning_exits_1(capsys):
    code, _, _ = run(capsys, "check", "aacn.org", "--zone", str(DEMO_ZONES), "--fail-on", "warning")
    assert code == 1


def test_check_json_validates_against_the_schema(capsys):
    code, out, _ = run(capsys, "check", "aacn.org", "deep.spfguard.test", "over.spfguard.test", "nothere.aacn.org",
                       "--zone", str(DEMO_ZONES), "--zone", str(TEST_ZONES), "--format", "json",
                       "--ip", "40.107.22.53", "--ip", "2001:db8:f0c5::1")
    data = json.loads(out)
    jsonschema.validate(data, schema())
    aacn, deep, over, missing = data["results"]
    assert (aacn["lookups"], aacn["void_lookups"], aacn["void_lookups_ipv6"]) == (9, 0, 2)
    assert [e["result"] for e in aacn["evaluations"]] == ["pass", "pass"]
    assert aacn["evaluations"][0]["path"][-1] == {"domain": "spf.protection.outlook.com",
                                                  "term": "ip4:40.107.0.0/16"}
    assert aacn["dmarc"]["policy"] == "none" and aacn["dmarc"]["rua"] is True
    assert over["lookups"] == 12 and over["verdict"] == "permerror"
    assert missing["record"] is None and missing["findings"][0]["code"] == "no-record"
    assert code == 1


def test_schema_rejects_broken_output():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": 1, "results": [{"domain": "x"}]}, schema())


def test_check_tree_format(capsys):
    code, out, _ = run(capsys, "check", "deep.spfguard.test", "--zone", str(TEST_ZONES), "-f", "tree")
    assert "include:l1.spfguard.test" in out and "include:l4.spfguard.test" in out
    # a macro exists is a void lookup for every client not listed (the worst case)
    assert "exists:%{i}.allow.spfguard.test  (+1, void v4 1 / v6 1) macro" in out
    assert out.index("include:l4") > out.index("include:l3") > out.index("include:l2")


def test_eval_prints_result_and_path(capsys):
    code, out, _ = run(capsys, "eval", "40.107.22.53", "aacn.org", "--zone", str(DEMO_ZONES))
    assert code == 0
    assert out.startswith("pass: 40.107.22.53 for aacn.org")
    assert ("aacn.org: include:_spf.protection.outlook.com → _spf.protection.outlook.com: "
            "include:spf.protection.outlook.com → spf.protection.outlook.com: ip4:40.107.0.0/16") in out
    code, out, _ = run(capsys, "eval", "198.18.0.1", "aacn.org", "--zone", str(DEMO_ZONES))
    assert code == 1 and out.startswith("softfail")


@pytest.mark.parametrize("args, words", [
    (["check", "aacn.org", "--zone", "/nonexistent/zones"], "cannot load zone data"),
    (["check", "aacn.org", "--ip", "999.1.1.1", "--zone", str(DEMO_ZONES)], "not an IPv4 or IPv6 address"),
    (["check", "aacn.org", "--nameserver", "127.0.0.1:99999"], "port must be"),
    (["check", "aacn.org", "--nameserver", "127.0.0.1", "--zone", str(DEMO_ZONES)], "exclude each other"),
    (["eval", "not-an-ip", "aacn.org"], "not an IPv4 or IPv6 address"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, words):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    code, _, err = run(capsys, "check", "aacn.org", "--format", "xml")
    assert code == 2 and "xml" in err


def test_help_does_not_import_provider_sdks():
    code = ("import sys, runpy; sys.argv=['spfguard','--help'];\n"
            "from spfguard.cli.main import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
            "heavy=[m for m in ('boto3','botocore','cloudflare','checkdmarc') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "spfguard.cli.main", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("spfguard ")


def test_progress_on_a_terminal_for_many_domains(capsys, monkeypatch):
    import spfguard.cli.check as check_module

    monkeypatch.setattr(check_module, "stderr_is_terminal", lambda: True)
    domains = ["aacn.org", "informz.net", "msgfocus.com", "docebosaas.com", "google.com", "mimecast.com"]
    code, out, err = run(capsys, "check", *domains, "--zone", str(DEMO_ZONES))
    assert "checked 6/6 domains" in err
    assert out.rstrip().splitlines()[-1].startswith("mimecast.com")  # the summary table comes last
    code, out, err = run(capsys, "check", *domains[:3], "--zone", str(DEMO_ZONES))
    assert "checked" not in err  # a few domains: no progress bar
