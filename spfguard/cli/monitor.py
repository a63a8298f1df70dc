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

from spfguard.cli.common import ConfigOption, Exit, NameserverOption, ZoneOption, make_dns
from spfguard.config import load_config
from spfguard.domains import parse_domain
from spfguard.errors import UserError
from spfguard.monitor.settings import MonitorSettings, default_state, parse_duration, parse_monitor
from spfguard.monitor.store import Store, locked
from spfguard.report.escape import safe

MIN_INTERVAL = 300  # seconds: checking every domain more often than every 5 minutes only loads the resolvers

app = typer.Typer(
    rich_markup_mode=None,
    help="Watch SPF records: alert on drift and lookup overflow (run it from cron or a systemd timer).",
    invoke_without_command=True,
)
StateOption = Annotated[Path | None, typer.Option("--state", metavar="FILE", help="The SQLite state store (default: "
                                                  "[monitor] state, else $XDG_STATE_HOME/spfguard/monitor.sqlite).")]


def _settings(config: Path | None, state: Path | None) -> MonitorSettings:
    if config is None:
        raise UserError("--config FILE is required (see examples/spfguard.toml for a [monitor] example)")
    settings = parse_monitor(load_config(config), base=config.parent)
    if state is not None:
        settings.state = state
    return settings


def parse_shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 1
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
        raise UserError(f"--shard {text!r}: expected K/N with 0 ≤ K < N, e.g. 0/4 (K counts from 0)")
    return int(k), int(n)


def _ms_version(settings: MonitorSettings, offline: bool) -> str | None:
    from spfguard.vendors.msendpoints import EndpointsClient, EndpointsError

    client = EndpointsClient()
    version = None
    if settings.update_endpoints and not offline:
        try:
            version = client.update()[0].version
        except EndpointsError as err:
            typer.echo(f"spfguard: warning: {err}", err=True)
    if version is None:
        version = client.load(offline=offline).version
    for warning in client.warnings:
        typer.echo(f"spfguard: warning: {warning}", err=True)
    return version


def _auto_fixer(settings: MonitorSettings, dns):
    from spfguard.errors import SpfguardError
    from spfguard.fix.apply import default_backup_dir, write_backup
    from spfguard.fix.planner import FixOptions, plan_fix
    from spfguard.provider.registry import load_provider

    def fix(domain, moved: dict[str, list[str]]) -> str | None:
        """``moved``: flattened includes whose ranges changed (include -> the ranges flattened earlier): those are
        re-flattened; else (an expected platform under a flattened record) everything is."""
        try:
            provider = load_provider(domain.provider, settings.providers.get(domain.provider, {}))
            options = FixOptions(domain.expect, "auto", reflatten=moved) if moved else \
                FixOptions(domain.expect, "always")
            plan = asyncio.run(plan_fix(domain.name, dns, options,
                                        lambda name: asyncio.to_thread(provider.read_txt, name)))
            if plan.empty or not plan.proven:
                return None
            provider.check(plan.changes)
            backup = write_backup(plan, provider, default_backup_dir())
            provider.apply(plan.changes)
            provider.wait(plan.changes)
            if plan.flattened:
                store = Store(settings.state)
                try:
                    store.record_flattened(domain.name, {f.include: f.ranges for f in plan.flattened})
                finally:
                    store.close()
        except SpfguardError as err:
            typer.echo(f"spfguard: auto-fix of {domain.name} not done: {safe(err)}", err=True)
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
    interval: Annotated[str, typer.Option("--interval", metavar="DURATION", help="Time between checks without "
                                          "--once, e.g. 24h (at least 5m).")] = "24h",
    remind_after: Annotated[str | None, typer.Option("--remind-after", metavar="DURATION", help="Notify again "
                                                     "about a problem still present after this long, e.g. 7d.")]
    = None,
    auto_fix: Annotated[bool, typer.Option("--auto-fix", help="For domains with a provider: re-flatten and "
                                           "write when the only drift is vendor ranges under a flattened "
                                           "record.")] = False,
    shard: Annotated[str | None, typer.Option("--shard", metavar="K/N", help="Check only shard K of N (K from 0) "
                                              "to split a fleet across machines.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing while healthy: only events (what "
                                        "cron mails).")] = False,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: Annotated[float | None, typer.Option("--timeout", metavar="SECONDS", min=0.05, max=60,
                                                  help="Seconds to wait for one DNS answer (default: [monitor] "
                                                       "timeout, else 2).")] = None,
    retries: Annotated[int | None, typer.Option("--retries", metavar="N", min=0, max=10,
                                                help="Further tries after a DNS timeout (default: [monitor] "
                                                     "retries, else 2).")] = None,
) -> None:
    """Check every configured domain, store a snapshot, alert on change. Exit 0 healthy, 1 problems,
    3 could not check."""
    ctx.obj = {"config": config, "state": state}
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(config, state)
    if remind_after is not None:
        settings.remind_after = parse_duration(remind_after, "--remind-after")
    every = parse_duration(interval, "--interval", MIN_INTERVAL)
    part = parse_shard(shard)
    if timeout is not None:
        settings.timeout = timeout
    if retries is not None:
        settings.retries = retries
    while True:
        code = _run(settings, part, zone, nameserver or settings.nameservers, auto_fix, quiet)
        if once:
            raise typer.Exit(code)
        time.sleep(every)


def _run(settings, part, zone, nameservers, auto_fix, quiet) -> int:
    from spfguard.monitor.run import run_once

    dns = make_dns(zone, nameservers, settings.timeout, settings.retries, max_qps=settings.max_qps)
    with locked(settings.state):
        store = Store(settings.state)
        try:
            result = run_once(settings, dns, store, shard=part, ms_version=_ms_version(settings, bool(zone)),
                              auto_fix=_auto_fixer(settings, dns) if auto_fix else None)
        finally:
            store.close()
    for event in result.events:
        typer.echo(f"{event.domain}: [{event.code}] {safe(event.message)}")
    for line in result.fixed:
        typer.echo(f"auto-fix: {safe(line)}")
    for error in result.alert_errors:
        typer.echo(f"spfguard: warning: alert not delivered ({safe(error)}); it will be sent again next run", err=True)
    status = {0: "healthy", 1: f"{result.problems} problem(s)", 3: "could not check " + ", ".join(result.incomplete)}
    if not quiet or result.events or result.fixed:
        typer.echo(f"monitor: {result.checked} domain(s) checked, {len(result.events)} notification(s), "
                   f"{status[result.exit_code]}")
    return result.exit_code


def _store_path(ctx: typer.Context, config: Path | None, state: Path | None) -> Path:
    """--state, else the config's [monitor] state (--config here or before the subcommand), else the default."""
    parent = ctx.obj or {}
    state = state or parent.get("state")
    if state is not None:
        return state
    config = config or parent.get("config")
    if config is not None:
        return _settings(config, None).state
    return default_state()


@app.command("history")
def history(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument(metavar="DOMAIN", help="A monitored domain.")],
    config: ConfigOption = None,
    state: StateOption = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", min=1, help="At most N runs.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline as JSON.")] = False,
) -> None:
    """The stored timeline of DOMAIN: one line per run, with the events it raised."""
    path = _store_path(ctx, config, state)
    if not path.exists():
        raise UserError(f"no state store at {path}: has the monitor run yet? (--state FILE or --config FILE)")
    store = Store(path)
    try:
        entries = store.history(parse_domain(domain), limit)
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
        events = "; ".join(f"[{ev['code']}] {safe(ev['message'])}" for ev in e["events"]) or ""
        rows.append([when, "could not check" if e["incomplete"] else f"{snap['lookups']}/10",
                     f"{snap['void_lookups']}/{snap['void_lookups_ipv6']}", coverage, events])
    typer.echo(tabulate(rows, headers=["run (UTC)", "lookups", "voids v4/v6", "coverage", "events"],
                        maxcolwidths=[None, None, None, 40, 70]))
