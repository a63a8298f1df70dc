"""``spfguard.1``, generated from the CLI itself (every command, its usage, help and options), so the man page
cannot drift from ``--help``: ``make man`` writes ``man/spfguard.1``, the wheel installs it into
``share/man/man1`` and a test holds the file equal to what this module renders."""

from __future__ import annotations

import re
import sys
from typing import Any

import typer
import typer.main

from spfguard import __version__
from spfguard.cli.lazy import COMMANDS, load

SEE_ALSO = "README.md, beside the source (the full guide); spfguard COMMAND --help"


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(ch if ord(ch) < 128 else f"\\[u{ord(ch):04X}]" for ch in text)  # groff reads ASCII
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.splitlines())


def _paragraphs(text: str) -> str:
    """Click's help text (paragraphs; ``\\b`` marks a block kept as written) as roff."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        if block.lstrip().startswith("\b"):
            out.append(".nf\n" + _roff(block.lstrip()[1:].strip("\n")) + "\n.fi")
        else:
            out.append(_roff(" ".join(line.strip() for line in block.splitlines())))
    return "\n.PP\n".join(out)


def _command(path: str, command: Any, parent: Any) -> list[str]:
    ctx = typer.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
    lines = [f'.SS "{path}"', f".B {_roff(path)}", _roff(" ".join(command.collect_usage_pieces(ctx))), ".PP",
             _paragraphs(command.help or "")]
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        lines += [".TP", f"\\fB{_roff(names)}\\fR", _roff(" ".join(help_text.split())) or "\\&"]
    subcommands = getattr(command, "commands", {})
    for name in sorted(subcommands):
        lines += _command(f"{path} {name}", subcommands[name], ctx)
    return lines


def render() -> str:
    from spfguard.cli.main import app

    root = typer.main.get_command(app)
    top = typer.Context(root, info_name="spfguard")
    lines = [
        f'.TH SPFGUARD 1 "" "spfguard {__version__}" "User Commands"',
        ".SH NAME", "spfguard \\- audit, repair and watch SPF records (RFC 7208)",
        ".SH SYNOPSIS", ".B spfguard", "[\\fB\\-\\-version\\fR] [\\fB\\-h\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION", _paragraphs(root.help or ""),
        ".PP", "Commands:",
    ]
    for name, spec in COMMANDS.items():
        lines += [".TP", f"\\fB{name}\\fR", _roff(spec.short_help)]
    lines += [".SH COMMANDS"]
    for name in COMMANDS:
        lines += _command(f"spfguard {name}", load(name), top)
    lines += [
        ".SH EXIT STATUS",
        ".TP", "0", "no finding at or above \\fB\\-\\-fail\\-on\\fR; a write done and verified",
        ".TP", "1", "findings, a refused plan or a provider error",
        ".TP", "2", "bad input: a wrong option, file or configuration",
        ".TP", "3", "could not complete: DNS or a server did not answer",
        ".TP", "70", "a bug in spfguard (reported in one line; SPFGUARD_DEBUG=1 shows the traceback)",
        ".SH ENVIRONMENT",
        ".TP", "SPFGUARD_CONFIG", "the configuration file (as \\fB\\-\\-config\\fR)",
        ".TP", "SPFGUARD_DEBUG", "tracebacks and dependency warnings",
        ".TP", "NO_COLOR", "no colour in terminal output",
        ".SH SEE ALSO", _roff(SEE_ALSO),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
