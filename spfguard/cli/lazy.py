"""A command group that imports a command's module only when that command runs (click's "lazy group" pattern,
on typer's own group class: typer 0.29 ships its click inside).

``spfguard check`` never imports the monitor's store, the connector model or the fix planner; ``spfguard --help``
lists every command from the short help kept in :data:`COMMANDS`, which each command also takes as its own."""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup


@dataclass(frozen=True)
class Lazy:
    module: str  # spfguard.cli.<module>
    attr: str  # a command function, or a typer.Typer for a command group
    short_help: str


COMMANDS: dict[str, Lazy] = {
    "check": Lazy("check", "check", "Audit domains' SPF records: exact lookup counts, findings, coverage."),
    "check-zones": Lazy("check", "check_zones", "Audit every SPF record in zone files or an octoDNS config."),
    "eval": Lazy("evaluate", "evaluate", "Evaluate check_host() for one address (RFC 7208 §4)."),
    "fix": Lazy("fix", "fix", "Plan a proven-equivalent fix; write it with --apply."),
    "rollback": Lazy("fix", "rollback", "Restore a domain's SPF record from a backup taken before a write."),
    "senders": Lazy("senders", "senders", "Who really sends as your domains, from DMARC aggregate reports."),
    "providers": Lazy("providers", "providers", "List DNS provider plugins and their state."),
    "inventory": Lazy("inventory", "inventory", "List the zones a provider account holds."),
    "ranges": Lazy("ranges", "app", "Published sender ranges of mail platforms."),
    "connector": Lazy("connector", "app", "Exchange Online outbound connector and transport rule."),
    "monitor": Lazy("monitor", "app", "The nightly job: drift, lookup overflow and alerts."),
}


def load(name: str) -> Any:
    spec = COMMANDS[name]
    target = getattr(importlib.import_module(f"spfguard.cli.{spec.module}"), spec.attr)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
    else:
        single = typer.Typer(rich_markup_mode=None, pretty_exceptions_show_locals=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    command.short_help = spec.short_help  # the same line in `spfguard --help`, loaded or not
    return command


class LazyGroup(TyperGroup):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Any] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any | None:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load(cmd_name)
        return self._loaded[cmd_name]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except typer.TyperException as err:  # the parser's "No such command": suggest from every command
            close = difflib.get_close_matches(args[0], list(COMMANDS)) if args else []
            message = getattr(err, "message", "")
            if close and "Did you mean" not in message:
                err.message = f"{message.rstrip('.')}. Did you mean {close[0]!r}?"
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, spec.short_help) for name, spec in COMMANDS.items()]  # without importing any command
        with formatter.section("Commands"):
            formatter.write_dl(rows)
