"""#26: the man page is generated from the CLI (it cannot drift from --help) and renders cleanly."""

from __future__ import annotations

import subprocess

from spfguard.cli.lazy import COMMANDS
from spfguard.cli.manpage import render
from tests.conftest import ROOT
from tests.support.system import require_tool

PAGE = ROOT / "man" / "spfguard.1"


def test_the_committed_man_page_is_what_the_cli_generates():
    assert PAGE.read_text() == render(), "man/spfguard.1 is stale: run `make man`"


def test_the_man_page_names_every_command_and_option():
    page = render()
    for name in COMMANDS:
        assert f'.SS "spfguard {name}"' in page
    for option in ("\\-\\-zone", "\\-\\-apply", "\\-\\-from\\-plan", "\\-\\-format", "\\-\\-shard"):
        assert option in page
    for sub in ("monitor status", "monitor report", "connector plan", "ranges list"):
        assert f'.SS "spfguard {sub}"' in page


def test_groff_renders_it_without_a_warning():
    groff = require_tool("groff", "groff-base")
    proc = subprocess.run([groff, "-man", "-ww", "-z", str(PAGE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    text = subprocess.run([groff, "-man", "-Tutf8", "-P-cbou", str(PAGE)], capture_output=True, text=True,
                          timeout=60).stdout  # plain text: no overstrike for bold
    assert "spfguard check" in text and "EXIT STATUS" in text
