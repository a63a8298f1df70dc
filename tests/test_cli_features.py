"""Issue #11: the CLI a user expects — the tree view, rollback twice, --quiet, history without --config,
host names for --nameserver, exit codes on the class."""

from __future__ import annotations

import shutil

from spfguard.cli.main import main
from tests.conftest import DEMO_ZONES, TEST_ZONES


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_tree_shows_mx_dmarc_findings_and_the_11th_lookup(capsys):
    code, out, _ = run(capsys, "check", "over.spfguard.test", "--zone", TEST_ZONES, "--format", "tree")
    assert "◀ lookup 11: receivers stop here with permerror" in out
    marked = next(line for line in out.splitlines() if "◀ lookup 11" in line)
    assert "running total 11" in marked or "(+1" in marked
    assert "MX:" in out and "DMARC:" in out and "too-many-lookups" in out
    code, out, _ = run(capsys, "check", "aacn.org", "--zone", DEMO_ZONES, "--format", "tree", "--verbose")
    assert "ip4:40.107.0.0/16" in out and "range(s)" not in out
    code, out, _ = run(capsys, "check", "aacn.org", "--zone", DEMO_ZONES, "--format", "tree")
    assert "6 ip4, 5 ip6 range(s)" in out and "◀" not in out


def test_rollback_twice_and_its_dry_run(capsys, tmp_path, monkeypatch):
    zones = tmp_path / "zones"
    shutil.copytree(DEMO_ZONES, zones)
    zonefile = zones / "aacn.org.zone"
    monkeypatch.setenv("SPFGUARD_ZONEFILE", str(zonefile))
    original = zonefile.read_text()
    code, out, _ = run(capsys, "fix", "aacn.org", "--zone", zones, "--expect", "microsoft365", "--provider",
                       "zonefile", "--apply", "--backup-dir", tmp_path, "--wait", "2")
    assert code == 0, out
    backup = next(tmp_path.glob("aacn.org-*.json"))
    code, out, _ = run(capsys, "rollback", backup, "--provider", "zonefile")
    assert code == 0 and "dry run" in out
    assert '- TXT "v=spf1 include:us._netblocks.mimecast.com' in out and '+ TXT "v=spf1 ip4:23.103.224.0/19' in out
    code, out, _ = run(capsys, "rollback", backup, "--provider", "zonefile", "--apply", "--zone", zones,
                       "--wait", "2")
    assert code == 0 and "restored 1 name(s)" in out
    def spf(text):
        return [line[line.index('"'):] for line in text.splitlines() if "v=spf1" in line]

    assert spf(zonefile.read_text()) == spf(original)
    code, out, _ = run(capsys, "rollback", backup, "--provider", "zonefile", "--apply")
    assert code == 0 and "already restored" in out
    # someone edits the record: the dry run warns that the compare-and-set would refuse
    zonefile.write_text(zonefile.read_text().replace("~all", "-all", 1))
    code, out, err = run(capsys, "rollback", backup, "--provider", "zonefile")
    assert code == 1 and "compare-and-set refuses the rollback" in err


def _monitor_config(tmp_path, extra=""):
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[monitor]\nstate = "{tmp_path / "state.sqlite"}"\n[[monitor.domains]]\n'
                      f'name = "l4.spfguard.test"\n{extra}')
    return config


def test_quiet_monitor_is_silent_while_healthy(capsys, tmp_path):
    config = _monitor_config(tmp_path)
    code, out, err = run(capsys, "monitor", "--config", config, "--once", "--quiet", "--zone", TEST_ZONES)
    assert code == 0 and out == "" and err == ""
    code, out, _ = run(capsys, "monitor", "--config", config, "--once", "--zone", TEST_ZONES)
    assert code == 0 and "1 domain(s) checked" in out


def test_history_without_config_and_with_group_level_config(capsys, tmp_path, monkeypatch):
    config = _monitor_config(tmp_path)
    assert run(capsys, "monitor", "--config", config, "--once", "--zone", TEST_ZONES)[0] == 0
    code, out, _ = run(capsys, "monitor", "--config", config, "history", "l4.spfguard.test")
    assert code == 0 and "0/10" in out
    code, out, _ = run(capsys, "monitor", "history", "l4.spfguard.test", "--state", tmp_path / "state.sqlite")
    assert code == 0 and "0/10" in out
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "nowhere"))
    code, _, err = run(capsys, "monitor", "history", "l4.spfguard.test")
    assert code == 2 and "no state store at" in err and "nowhere/spfguard/monitor.sqlite" in err


def test_nameserver_by_host_name(capsys, knot):
    code, out, _ = run(capsys, "check", "aacn.org", "--nameserver", f"localhost:{knot.port}")
    assert code == 0 and "lookups 9/10" in out
    code, out, _ = run(capsys, "eval", "40.107.22.53", "aacn.org", "--nameserver", f"[::ffff:127.0.0.1]:{knot.port}",
                       "--trace")
    assert code == 0 and "include:spf.protection.outlook.com  (match)" in out


def test_exit_codes_come_from_the_error_classes():
    from spfguard.errors import IncompleteError, PlanError, ProviderError, SpfguardError, UserError

    assert (UserError.exit_code, IncompleteError.exit_code, ProviderError.exit_code, PlanError.exit_code) == \
        (2, 3, 1, 1)
    assert all(issubclass(c, SpfguardError) for c in (UserError, IncompleteError, ProviderError, PlanError))


def test_a_genuine_bug_is_exit_70_with_one_line(capsys, monkeypatch):
    import spfguard.cli.check as check_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("on purpose")

    monkeypatch.setattr(check_module, "collect_domains", broken)
    code, _, err = run(capsys, "check", "aacn.org")
    assert code == 70 and "internal error: ZeroDivisionError: on purpose — this is a bug" in err
    assert len(err.strip().splitlines()) == 1
