"""Issue #11: help a person can read — real metavars, every option documented, choices listed — shell
completion, and colour only on a terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from spfguard.cli.main import app, main

COMMANDS = [[], ["check"], ["eval"], ["fix"], ["rollback"], ["providers"], ["ranges"], ["ranges", "list"],
            ["ranges", "show"], ["ranges", "update"], ["ranges", "allowlist"], ["connector"], ["connector", "plan"],
            ["connector", "validate"], ["connector", "check"], ["monitor"], ["monitor", "history"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "spfguard")
def test_help_shows_metavars_not_type_names(capsys, command):
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    for bad in (r"<[a-z]", r"\{[a-z]", r"\brange\]", "list\\[", r"\bfloat\b", r"\bint\b", r"<str>", r"<path>"):
        assert not re.search(bad, text), (bad, text)


def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_option_and_argument_is_documented():
    import typer

    root = typer.main.get_command(app)
    for path, command in _commands(root):
        for param in command.params:
            if param.name in ("help", "install_completion", "show_completion"):
                continue
            assert getattr(param, "help", None), f"spfguard {' '.join(path)}: {param.name} has no help text"


def test_choices_are_listed(capsys):
    main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "table, tree, json, csv, summary (one line per domain), html, sarif (SARIF 2.1.0, for code scanning) " \
        "or junit" in text
    assert "error or warning" in text


def test_shell_completion_offers_commands(capsys):
    assert main(["--help"]) == 0 and "--install-completion" in capsys.readouterr().out
    env = {**os.environ, "_SPFGUARD_COMPLETE": "complete_bash", "COMP_WORDS": "spfguard ch", "COMP_CWORD": "1"}
    proc = subprocess.run([sys.executable, "-c", "from spfguard.cli.main import main; main()"], env=env,
                          capture_output=True, text=True)
    assert "check" in proc.stdout, proc.stdout + proc.stderr


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    from spfguard.report import use_color

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())
    assert not use_color(sys.stdout) or sys.stdout.isatty()


def test_severities_are_coloured_on_a_terminal():
    import asyncio

    from spfguard.audit import audit
    from spfguard.report import Options, renderer
    from tests.helpers import zone
    report = asyncio.run(audit("example.com", zone(**{"example.com": ["v=spf1 +all"]}), dmarc=False))
    coloured = renderer("check", "table", Options(color=True)).add(0, report)
    plain = renderer("check", "table", Options(color=False)).add(0, report)
    assert "\x1b[31merror\x1b[0m" in coloured and "\x1b" not in plain
