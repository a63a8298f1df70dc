"""Issue #19: one application layer — the joins that used to be copied per command. A relative ``[monitor] state``
names one store for ``fix --apply`` and the monitor whatever folder they run from; every write (fix, a reviewed
plan, rollback, the monitor's auto-fix) goes through one apply flow that backs up and verifies."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest

from spfguard.cli.main import main
from tests.conftest import DEMO_ZONES, TEST_ZONES


def _setup(tmp_path):
    """A config folder with a relative state path and a zone-file provider; a copy of the test zone to edit."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    zone = cfg / "spfguard.test.zone"
    shutil.copy(TEST_ZONES / "spfguard.test.zone", zone)
    config = cfg / "spfguard.toml"
    config.write_text('[providers.zonefile]\npath = "spfguard.test.zone"\n'  # relative: from the config's folder
                      '[monitor]\nstate = "monitor.sqlite"\n'
                      '[[monitor.domains]]\nname = "bigco.spfguard.test"\nprovider = "zonefile"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return cfg, zone, config, elsewhere


def test_a_relative_state_is_one_store_for_fix_and_the_monitor(tmp_path, capsys, monkeypatch):
    cfg, zone, config, elsewhere = _setup(tmp_path)
    monkeypatch.chdir(elsewhere)  # neither the config's folder nor the repository
    code = main(["fix", "bigco.spfguard.test", "--config", str(config), "--zone", str(DEMO_ZONES), "--zone",
                 str(zone), "--provider", "zonefile", "--flatten", "always", "--apply", "--backup-dir",
                 str(tmp_path / "backups"), "--wait", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"flattened includes recorded for the monitor in {cfg / 'monitor.sqlite'}" in out
    assert not (elsewhere / "monitor.sqlite").exists()  # not in the current folder
    recorded = sqlite3.connect(cfg / "monitor.sqlite").execute("SELECT include FROM flattened").fetchall()
    assert recorded and all(domain for (domain,) in recorded)
    # the monitor, run from yet another folder, reads that very store: it watches the flattened includes
    monkeypatch.chdir(tmp_path)
    assert main(["monitor", "--config", str(config), "--once", "--zone", str(DEMO_ZONES), "--zone", str(zone)]) \
        in (0, 1)
    capsys.readouterr()
    history = sqlite3.connect(cfg / "monitor.sqlite").execute("SELECT data FROM snapshots").fetchone()[0]
    snapshot = json.loads(history)
    assert {include for (include,) in recorded} <= set(snapshot["include_ranges"])


def test_rollback_backs_up_what_it_overwrites_and_verifies(tmp_path, capsys, monkeypatch):
    cfg, zone, config, elsewhere = _setup(tmp_path)
    backups = tmp_path / "backups"
    args = ["--config", str(config), "--provider", "zonefile", "--backup-dir", str(backups), "--wait", "2"]
    assert main(["fix", "bigco.spfguard.test", "--zone", str(DEMO_ZONES), "--zone", str(zone), "--flatten",
                 "always", "--apply", *args]) == 0
    capsys.readouterr()
    (fix_backup,) = backups.iterdir()
    written = zone.read_text()
    assert main(["rollback", str(fix_backup), "--apply", "--zone", str(DEMO_ZONES), *args]) == 0
    out = capsys.readouterr().out
    assert "restored" in out and "verified at the zonefile provider" in out and "backup: " in out
    rollback_backup = next(p for p in backups.iterdir() if p != fix_backup)
    saved = json.loads(rollback_backup.read_text())
    # the rollback's own backup holds what the fix had written: the rollback can itself be undone
    fixed_apex = next(r for r in saved["records"] if r["name"] == "bigco.spfguard.test")
    assert any(v in written for v in fixed_apex["before"]) and fixed_apex["before"] != fixed_apex["after"]
    assert oct(os.stat(rollback_backup).st_mode & 0o777) == "0o600"


def test_a_reviewed_plan_is_backed_up_and_verified_like_a_fix(tmp_path, capsys):
    cfg, zone, config, elsewhere = _setup(tmp_path)
    plan = tmp_path / "plan.json"
    backups = tmp_path / "backups"
    assert main(["fix", "bigco.spfguard.test", "--zone", str(DEMO_ZONES), "--zone", str(zone), "--flatten",
                 "always", "--config", str(config), "--provider", "zonefile", "--plan-out", str(plan)]) == 0
    capsys.readouterr()
    assert main(["fix", "--from-plan", str(plan), "--config", str(config), "--provider", "zonefile", "--apply",
                 "--zone", str(DEMO_ZONES), "--zone", str(zone), "--backup-dir", str(backups), "--wait", "2"]) == 0
    out = capsys.readouterr().out
    assert "backup: " in out and "verified at the zonefile provider" in out
    assert len(list(backups.iterdir())) == 1


@pytest.mark.parametrize("command", [["monitor", "status"], ["monitor", "history", "a.example"]])
def test_read_only_commands_name_the_missing_store(tmp_path, capsys, command):
    code = main([*command, "--state", str(tmp_path / "none.sqlite")])
    assert code == 2 and "no state store at" in capsys.readouterr().err
