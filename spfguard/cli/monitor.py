"""``spfguard monitor``: the nightly job (cron, a systemd timer, or a Kubernetes Indexed Job), and
``monitor history``, ``monitor status``, ``monitor digest``."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from tabulate import tabulate

from spfguard.cli.common import ConfigOption, Exit, NameserverOption, ZoneOption, make_dns
from spfguard.config import load_config
from spfguard.domains import parse_domain
from spfguard.errors import UserError
from spfguard.monitor.settings import MonitorSettings, default_state, parse_duration, parse_monitor
from spfguard.monitor.store import open_store
from spfguard.report.escape import safe

MIN_INTERVAL = 300  # seconds: checking every domain more often than every 5 minutes only loads the resolvers

app = typer.Typer(
    rich_markup_mode=None,
    help="Watch SPF records: alert on drift and lookup overflow (run it from cron, a systemd timer or a "
         "Kubernetes Indexed Job).",
    invoke_without_command=True,
)
StateOption = Annotated[str | None, typer.Option("--state", metavar="FILE|URL", help="The state store: a SQLite file "
                                                 "or postgresql://… (default: [monitor] state, else "
                                                 "$XDG_STATE_HOME/spfguard/monitor.sqlite).")]


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class StatusFormat(StrEnum):
    table = "table"
    json = "json"


def _settings(config: Path | None, state: str | None) -> MonitorSettings:
    if config is None:
        raise UserError("--config FILE is required (see examples/spfguard.toml for a [monitor] example)")
    settings = parse_monitor(load_config(config), base=config.parent)
    if state is not None:
        settings.state = state
    return settings


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


def _auto_fixer(settings: MonitorSettings, dns, store):
    from spfguard.errors import SpfguardError
    from spfguard.fix.apply import default_backup_dir, write_backup
    from spfguard.fix.planner import FixOptions, plan_fix
    from spfguard.provider.registry import load_provider

    async def fix(domain, moved: dict[str, list[str]]) -> str | None:
        """``moved``: flattened includes whose ranges changed (include -> the ranges flattened earlier): those are
        flattened again; else (an expected platform under a flattened record) everything is."""
        try:
            provider = load_provider(domain.provider, settings.providers.get(domain.provider, {}))
            options = FixOptions(domain.expect, "auto", reflatten=moved) if moved else \
                FixOptions(domain.expect, "always")
            plan = await plan_fix(domain.name, dns, options, lambda name: asyncio.to_thread(provider.read_txt, name))
            if plan.empty or not plan.proven:
                return None
            await asyncio.to_thread(provider.check, plan.changes)
            backup = write_backup(plan, provider, default_backup_dir())
            await asyncio.to_thread(provider.apply, plan.changes)
            await asyncio.to_thread(provider.wait, plan.changes)
            if plan.flattened:
                store.record_flattened(domain.name, {f.include: f.ranges for f in plan.flattened})
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
    auto_fix: Annotated[bool, typer.Option("--auto-fix", help="For domains with a provider: flatten again and "
                                           "write when the only drift is a vendor's ranges under a flattened "
                                           "record.")] = False,
    shard: Annotated[str | None, typer.Option("--shard", metavar="K/N|auto", help="Check only shard K of N (K from "
                                              "0; by a hash of the domain name); auto: from a Kubernetes Indexed Job "
                                              "or an AWS Batch array job, with SPFGUARD_SHARDS.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing while healthy: only events (what "
                                        "cron mails).")] = False,
    log_format: Annotated[LogFormat | None, typer.Option("--log-format", metavar="FORMAT", help="Log a line per run "
                                                         "and per failing domain on stderr: text or json.")] = None,
    metrics_file: Annotated[Path | None, typer.Option("--metrics-file", metavar="FILE", help="Write Prometheus "
                                                      "metrics here after each run (node_exporter's textfile "
                                                      "collector).")] = None,
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
    from spfguard.monitor import ops
    from spfguard.monitor.shard import parse_shard

    ctx.obj = {"config": config, "state": state}
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(config, state)
    if remind_after is not None:
        settings.remind_after = parse_duration(remind_after, "--remind-after")
    every = parse_duration(interval, "--interval", MIN_INTERVAL)
    part = parse_shard(shard)
    if metrics_file is not None and not metrics_file.parent.is_dir():
        raise UserError(f"--metrics-file {metrics_file}: the folder {metrics_file.parent} does not exist")
    settings.timeout = timeout if timeout is not None else settings.timeout
    settings.retries = retries if retries is not None else settings.retries
    ops.configure(log_format.value if log_format else None)
    while True:
        code = _run(settings, part, zone, nameserver or settings.nameservers, auto_fix, quiet, metrics_file)
        if once:
            raise typer.Exit(code)
        time.sleep(every)


def _run(settings, part, zone, nameservers, auto_fix, quiet, metrics_file) -> int:
    from spfguard.monitor.run import run_monitor, shard_label

    dns = make_dns(zone, nameservers, settings.timeout, settings.retries, max_qps=settings.max_qps)
    store = open_store(settings.state)
    try:
        with store.lock(shard_label(part)):
            ms_version = _ms_version(settings, bool(zone))
            result = asyncio.run(run_monitor(settings, dns, store, shard=part, ms_version=ms_version,
                                             auto_fix=_auto_fixer(settings, dns, store) if auto_fix else None))
            if metrics_file is not None:
                _metrics(metrics_file, shard_label(part), result, dns, store)
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
        typer.echo(f"monitor: {result.checked} domain(s) checked, {len(result.events)} event(s), "
                   f"{result.delivered} alert(s) delivered, {status[result.exit_code]}")
    return result.exit_code


def _metrics(path: Path, label: str, result, dns, store) -> None:
    from spfguard.monitor.ops import write_metrics

    write_metrics(path, label, {
        "checked": result.checked, "failing": len(result.incomplete), "problems": dict(result.problem_codes),
        "duration": result.duration, "queries": getattr(dns, "sent", len(getattr(dns, "queries", ()))),
        "timeouts": getattr(dns, "timeouts", 0), "pending": sum(store.pending_count().values()),
        "finished": time.time()})


def _store_location(ctx: typer.Context, config: Path | None, state: str | None) -> str:
    """--state, else the config's [monitor] state (--config here or before the subcommand), else the default."""
    parent = ctx.obj or {}
    state = state or parent.get("state")
    if state is not None:
        return state
    config = config or parent.get("config")
    if config is not None:
        return _settings(config, None).state
    return default_state()


def _open_existing(location: str):
    if not location.startswith(("postgresql://", "postgres://")) and not Path(location).exists():
        raise UserError(f"no state store at {location}: has the monitor run yet? (--state FILE or --config FILE)")
    return open_store(location)


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
    store = _open_existing(_store_location(ctx, config, state))
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


@app.command("status")
def status(
    ctx: typer.Context,
    config: ConfigOption = None,
    state: StateOption = None,
    fmt: Annotated[StatusFormat, typer.Option("--format", "-f", metavar="FORMAT", help="table or json.")]
    = StatusFormat.table,
) -> None:
    """The fleet at a glance, from the store: the last run of each shard, domains checked and failing, open
    problems by tenant, alerts not yet delivered."""
    store = _open_existing(_store_location(ctx, config, state))
    try:
        shards, problems, pending = store.shards(), store.open_problems(), store.pending_count()
        latest = store.latest()
    finally:
        store.close()
    by_tenant: dict[str, dict[str, int]] = {}
    for _, tenant, code, *_rest in problems:
        counts = by_tenant.setdefault(tenant or "(none)", {})
        counts[code] = counts.get(code, 0) + 1
    data = {"version": 1, "shards": shards, "domains": len(latest),
            "failing": sorted(d for d, _, snap in latest if snap.get("incomplete")),
            "problems_by_tenant": by_tenant, "alerts_pending": pending}
    if fmt is StatusFormat.json:
        typer.echo(json.dumps(data, indent=2))
        raise typer.Exit(Exit.OK)

    def when(stamp):
        return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M") if stamp else "-"

    typer.echo(tabulate([[s["shard"], when(s["started"]), "running" if s["finished"] is None else
                          f"{s['duration']:.1f}s", s["checked"], s["failing"], s["problems"], s["exit_code"]]
                         for s in shards],
                        headers=["shard", "last run (UTC)", "took", "checked", "failing", "problems", "exit"]))
    typer.echo(f"\n{len(latest)} domain(s) in the store, {len(data['failing'])} failing to check")
    for tenant, counts in sorted(by_tenant.items()):
        typer.echo(f"  {tenant}: " + ", ".join(f"{n} {code}" for code, n in sorted(counts.items())))
    if pending:
        typer.echo("alerts not yet delivered: " + ", ".join(f"{sink} {n}" for sink, n in sorted(pending.items())))


@app.command("digest")
def digest(
    ctx: typer.Context,
    config: ConfigOption = None,
    state: StateOption = None,
    since: Annotated[str, typer.Option("--since", metavar="DURATION", help="The period, e.g. 7d.")] = "7d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the digests; send nothing.")] = False,
) -> None:
    """Send each tenant (and the default route) a summary of its fleet: problems open, resolved in the period,
    domains failing to check — for a weekly report."""
    from spfguard.monitor.digest import build_digests, send_digests

    parent = ctx.obj or {}
    settings = _settings(config or parent.get("config"), state or parent.get("state"))
    period = parse_duration(since, "--since", 3600)
    store = _open_existing(settings.state)
    try:
        digests = build_digests(store, settings, time.time() - period, since)
    finally:
        store.close()
    for item in digests:
        typer.echo(safe_block(item.text) + "\n")
    if dry_run:
        raise typer.Exit(Exit.OK)
    errors = send_digests(digests, settings.alerts)
    for error in errors:
        typer.echo(f"spfguard: error: digest not delivered ({safe(error)})", err=True)
    raise typer.Exit(Exit.INCOMPLETE if errors else Exit.OK)


@app.command("report")
def report(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="The HTML file to write.")],
    config: ConfigOption = None,
    state: StateOption = None,
    tenant: Annotated[str | None, typer.Option("--tenant", metavar="NAME", help="Only this tenant's domains.")]
    = None,
) -> None:
    """The fleet as one self-contained HTML page, from the store: every domain's latest state, sortable and
    filterable, with a timeline of its lookups and events."""
    from spfguard.cli.output import Output
    from spfguard.report.fleet import fleet_page

    destination = Output(output)
    store = _open_existing(_store_location(ctx, config, state))
    try:
        page = fleet_page(store, tenant)
    finally:
        store.close()
    with destination as out:
        out.write(page)
    typer.echo(f"fleet report written to {output}")


def safe_block(text: str) -> str:
    from spfguard.report.escape import safe_lines

    return safe_lines(text)

