"""``spfguard monitor``: the nightly job (cron or a systemd timer), and ``monitor history DOMAIN``."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from tabulate import tabulate

from spfguard.cli.common import Exit, NameserverOption, RetriesOption, TimeoutOption, UserError, ZoneOption, make_dns
from spfguard.config import load_config
from spfguard.monitor.settings import MonitorSettings, parse_duration, parse_monitor
from spfguard.monitor.store import Store, locked

app = typer.Typer(
    rich_markup_mode=None,
    help="Watch SPF records: alert on drift and lookup overflow (run it from cron).",
    invoke_without_command=True,
)
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="spfguard.toml with [monitor] and "
                                                   "[alerts].", envvar="SPFGUARD_CONFIG")]
StateOption = Annotated[Path | None, typer.Option("--state", help="The SQLite state store (default: "
                                                  "[monitor] state, else $XDG_STATE_HOME/spfguard/monitor.sqlite).")]


def _settings(config: Path | None, state: Path | None) -> MonitorSettings:
    if config is None:
        raise UserError("--config FILE is required (see the README for a [monitor] example)")
    settings = parse_monitor(load_config(config))
    if state is not None:
        settings.state = state
    return settings


def _shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 1
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
        raise UserError(f"--shard {text!r}: expected K/N with 0 ≤ K < N, e.g. 0/4")
    return int(k), int(n)


def _ms_version(settings: MonitorSettings, offline: bool) -> str | None:
    from spfguard.vendors.msendpoints import EndpointsClient, EndpointsError

    client = EndpointsClient()
    if settings.update_endpoints and not offline:
        try:
            return client.update()[0].version
        except EndpointsError as err:
            typer.echo(f"spfguard: warning: {err}", err=True)
    try:
        return client.load(offline=offline).version
    except EndpointsError:
        return None


def _auto_fixer(settings: MonitorSettings, dns):
    from spfguard.fix.apply import default_backup_dir, write_backup
    from spfguard.fix.planner import FixOptions, PlanError, plan_fix
    from spfguard.provider.base import ProviderError
    from spfguard.provider.registry import load_provider

    def fix(domain) -> str | None:
        try:
            provider = load_provider(domain.provider, settings.providers.get(domain.provider, {}))
            plan = asyncio.run(plan_fix(domain.name, dns, FixOptions(domain.expect, "always"),
                                        lambda name: asyncio.to_thread(provider.read_txt, name)))
            if plan.empty or not plan.proven:
                return None
            provider.check(plan.changes)
            backup = write_backup(plan, provider, default_backup_dir())
            provider.apply(plan.changes)
            provider.wait(plan.changes)
        except (PlanError, ProviderError) as err:
            typer.echo(f"spfguard: auto-fix of {domain.name} not done: {err}", err=True)
            return None
        names = ", ".join(c.name for c in plan.changes)
        return f"re-flattened through {domain.provider}: wrote {names} (backup {backup})"

    return fix


@app.callback()
def monitor(
    ctx: typer.Context,
    config: ConfigOption = None,
    state: StateOption = None,
    once: Annotated[bool, typer.Option("--once", help="Check once and exit (what cron and systemd timers "
                                       "want); without it, check again every --interval.")] = False,
    interval: Annotated[str, typer.Option("--interval", help="Time between checks without --once.")] = "24h",
    remind_after: Annotated[str | None, typer.Option("--remind-after", help="Notify again about a problem "
                                                     "still present after this long, e.g. 7d.")] = None,
    auto_fix: Annotated[bool, typer.Option("--auto-fix", help="For domains with a provider: re-flatten and "
                                           "write when the only drift is vendor ranges under a flattened "
                                           "record.")] = False,
    shard: Annotated[str | None, typer.Option("--shard", help="K/N: check only the domains whose position in "
                                              "the list is K modulo N (split a fleet across machines).")] = None,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Check every configured domain, store a snapshot, alert on change. Exit 0 healthy, 1 problems,
    3 could not check."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(config, state)
    if remind_after is not None:
        settings.remind_after = parse_duration(remind_after, "--remind-after")
    every = parse_duration(interval, "--interval")
    part = _shard(shard)
    while True:
        code = _run(settings, part, zone, nameserver or settings.nameservers, timeout, retries, auto_fix)
        if once:
            raise typer.Exit(code)
        time.sleep(every)


def _run(settings, part, zone, nameservers, timeout, retries, auto_fix) -> int:
    from spfguard.monitor.run import run_once

    dns = make_dns(zone, nameservers, timeout, retries)
    with locked(settings.state):
        store = Store(settings.state)
        try:
            result = run_once(settings, dns, store, shard=part, ms_version=_ms_version(settings, bool(zone)),
                              auto_fix=_auto_fixer(settings, dns) if auto_fix else None)
        finally:
            store.close()
    checked = len([d for i, d in enumerate(settings.domains) if i % part[1] == part[0]])
    for event in result.events:
        typer.echo(f"{event.domain}: [{event.code}] {event.message}")
    for line in result.fixed:
        typer.echo(f"auto-fix: {line}")
    for error in result.alert_errors:
        typer.echo(f"spfguard: warning: alert not delivered ({error}); it will be sent again next run", err=True)
    status = {0: "healthy", 1: f"{result.problems} problem(s)", 3: "could not check " + ", ".join(result.incomplete)}
    typer.echo(f"monitor: {checked} domain(s) checked, {len(result.events)} notification(s), "
               f"{status[result.exit_code]}")
    return result.exit_code


@app.command("history")
def history(
    domain: Annotated[str, typer.Argument(help="A monitored domain.")],
    config: ConfigOption = None,
    state: StateOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The stored timeline of DOMAIN: one line per run, with the events it raised."""
    path = state if state is not None else _settings(config, None).state
    if not path.exists():
        raise UserError(f"no state store at {path}: has the monitor run yet?")
    store = Store(path)
    try:
        entries = store.history(domain.lower().rstrip("."), limit)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        raise typer.Exit(Exit.OK)
    if not entries:
        typer.echo(f"no runs recorded for {domain}")
        raise typer.Exit(Exit.OK)
    rows = []
    for e in entries:
        snap = e["snapshot"]
        when = datetime.datetime.fromtimestamp(e["at"], datetime.UTC).strftime("%Y-%m-%d %H:%M")
        coverage = ", ".join(f"{p} {c['status']}" for p, c in snap["coverage"].items()) or "-"
        events = "; ".join(f"[{ev['code']}] {ev['message']}" for ev in e["events"]) or ""
        rows.append([when, "could not check" if e["incomplete"] else f"{snap['lookups']}/10",
                     f"{snap['void_lookups']}/{snap['void_lookups_ipv6']}", coverage, events])
    typer.echo(tabulate(rows, headers=["run (UTC)", "lookups", "voids v4/v6", "coverage", "events"],
                        maxcolwidths=[None, None, None, 40, 70]))
