"""#25: each command imports only its own modules; checkdmarc only when a DMARC record is about to be parsed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from spfguard.cli.lazy import COMMANDS, load
from tests.conftest import DEMO_ZONES

PROBE = """
import json, sys
from spfguard.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules if m.startswith(("spfguard", "checkdmarc",
      "boto3", "psycopg", "jinja2")))}))
"""

OTHER_COMMANDS = ("spfguard.cli.monitor", "spfguard.cli.connector", "spfguard.cli.fix", "spfguard.cli.senders",
                  "spfguard.monitor", "spfguard.connector", "spfguard.fix", "spfguard.senders", "spfguard.store")


def loaded(*argv: str) -> tuple[int, list[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["code"], result["modules"]


def imported(modules: list[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_check_imports_neither_other_commands_nor_checkdmarc_without_a_dmarc_record():
    code, modules = loaded("check", "informz.net", "--zone", str(DEMO_ZONES), "--format", "json")
    assert code in (0, 1)
    assert "spfguard.cli.check" in modules
    assert [m for m in OTHER_COMMANDS if imported(modules, m)] == []
    assert not imported(modules, "checkdmarc")  # no _dmarc record: nothing for checkdmarc to parse


def test_checkdmarc_is_imported_when_a_dmarc_record_is_parsed():
    code, modules = loaded("check", "aacn.org", "--zone", str(DEMO_ZONES), "--format", "json")
    assert code in (0, 1)
    assert imported(modules, "checkdmarc")


def test_eval_imports_no_report_or_dmarc_machinery():
    code, modules = loaded("eval", "40.107.22.5", "aacn.org", "--zone", str(DEMO_ZONES))
    assert code in (0, 1)
    assert [m for m in (*OTHER_COMMANDS, "checkdmarc", "jinja2", "spfguard.cli.check") if imported(modules, m)] == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_lazy_command_loads_with_the_help_line_the_group_lists(name):
    command = load(name)
    assert command.name == name
    assert command.get_short_help_str(200) == COMMANDS[name].short_help
    assert command.help  # its own docstring still heads `spfguard NAME --help`


def test_root_help_lists_every_command_without_importing_them():
    code, modules = loaded("--help")
    assert code == 0
    assert not any(m.startswith("spfguard.cli.") and m.rsplit(".", 1)[1] not in ("main", "lazy", "help")
                   for m in modules)


def test_unknown_command_is_a_usage_error(capsys):
    from spfguard.cli.main import main

    assert main(["chekc", "aacn.org"]) == 2
    err = capsys.readouterr().err
    assert "chekc" in err and "Did you mean 'check'?" in err and len(err.strip().splitlines()) == 1


THREAD_PROBE = """
import sys
from spfguard.cli.main import main
main(sys.argv[1:])
import spfguard.dmarc
print(spfguard.dmarc._importing is not None)
"""


@pytest.mark.parametrize(("domains", "threaded"), [(["aacn.org"], True), (["aacn.org", "informz.net"], False),
                                                    (["informz.net"], False)])
def test_checkdmarc_is_imported_beside_the_walk_only_for_one_domain_with_a_record(domains, threaded):
    """One domain: its walk waits on the network, so the import runs in a thread beside it once a DMARC record is
    found (informz.net has none). More domains: the walks keep the CPU busy, so the import waits for the parse."""
    proc = subprocess.run([sys.executable, "-c", THREAD_PROBE, "check", *domains, "--zone", str(DEMO_ZONES),
                           "--format", "json"], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == str(threaded)
