"""``spfguard monitor``: the nightly job (cron, a systemd timer, or a Kubernetes Indexed Job), and
``monitor history``, ``monitor status``, ``monitor report``, ``monitor digest``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer

from spfguard.cli.common import (
    ConfigOption,
    NameserverOption,
    StateOption,
    ZoneOption,
    before_a_long_run,
    dns_options,
    format_option,
    render,
)
from spfguard.config import load_config
from spfguard.domains import parse_domain
from spfguard.errors import ExitCode, UserError
from spfguard.tables import parse_duration
from spfguard.textsafe import safe

MIN_INTERVAL = 300  # seconds: checking every domain more often than every 5 minutes only loads the resolvers

app = typer.Typer(
    rich_markup_mode=None,
    help="Watch SPF records: alert on drift and lookup overflow (run it from cron, a systemd timer or a "
         "Kubernetes Indexed Job).",
    invoke_without_command=True,
)
StatusFormat = Annotated[str, format_option("status")]
DigestFormat = Annotated[str, format_option("digest")]


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
    log_format: Annotated[Literal["text", "json"] | None, typer.Option(
        "--log-format", metavar="FORMAT", help="Log a line per run and per failing domain on stderr: text or "
        "json.")] = None,
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
    from spfguard.app import monitor as use
    from spfguard.monitor import ops
    from spfguard.monitor.shard import parse_shard

    ctx.obj = {"config": config, "state": state}
    if ctx.invoked_subcommand is not None:
        return
    loaded = load_config(config)
    settings = use.settings_for(loaded, state)
    if remind_after is not None:
        settings.remind_after = parse_duration(remind_after, "--remind-after")
    every = parse_duration(interval, "--interval", MIN_INTERVAL)
    if metrics_file is not None and not metrics_file.parent.is_dir():
        raise UserError(f"--metrics-file {metrics_file}: the folder {metrics_file.parent} does not exist")
    settings.timeout = timeout if timeout is not None else settings.timeout
    settings.retries = retries if retries is not None else settings.retries
    options = use.RunOptions(parse_shard(shard), auto_fix, dns_options(zone, nameserver or settings.nameservers,
                                                                         settings.timeout, settings.retries,
                                                                         max_qps=settings.max_qps), metrics_file)
    ops.configure(log_format)
    before_a_long_run()
    while True:
        done = use.run(loaded, settings, options)
        for warning in done.warnings:
            typer.echo(f"spfguard: warning: {safe(warning)}", err=True)
        typer.echo(render("monitor-run", "text", done.result, quiet=quiet), nl=False)
        for error in done.result.alert_errors:
            typer.echo(f"spfguard: warning: alert not delivered ({safe(error)}); it will be sent again next run",
                       err=True)
        if once:
            raise typer.Exit(done.result.exit_code)
        time.sleep(every)


def _location(ctx: typer.Context, config: Path | None, state: str | None):
    """--state, else the config's [monitor] state (--config here or before the subcommand), else the default."""
    from spfguard.app.monitor import location_for

    parent = ctx.obj or {}
    return location_for(load_config(config or parent.get("config")), state or parent.get("state"))


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
    from spfguard.app.monitor import history as domain_history

    found = domain_history(_location(ctx, config, state), parse_domain(domain), limit)
    typer.echo(render("history", "json" if as_json else "table", found), nl=False)


@app.command("status")
def status(
    ctx: typer.Context,
    config: ConfigOption = None,
    state: StateOption = None,
    fmt: StatusFormat = "table",
) -> None:
    """The fleet at a glance, from the store: the last run of each shard, domains checked and failing, open
    problems by tenant, alerts not yet delivered. Exit 1 when a shard of the fleet never ran or is late."""
    from spfguard.app.monitor import status as fleet_status

    found = fleet_status(_location(ctx, config, state))
    typer.echo(render("status", fmt, found), nl=False)
    raise typer.Exit(ExitCode.OK if found.healthy else ExitCode.FINDINGS)


@app.command("digest")
def digest(
    ctx: typer.Context,
    config: ConfigOption = None,
    state: StateOption = None,
    since: Annotated[str, typer.Option("--since", metavar="DURATION", help="The period, e.g. 7d.")] = "7d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the digests; send nothing.")] = False,
    fmt: DigestFormat = "text",
) -> None:
    """Send each tenant (and the default route) a summary of its fleet: problems open, resolved in the period,
    domains failing to check — for a weekly report."""
    from spfguard.app import monitor as use

    parent = ctx.obj or {}
    settings = use.settings_for(load_config(config or parent.get("config")), state or parent.get("state"))
    done = use.digests(settings, parse_duration(since, "--since", 3600), since, send=not dry_run)
    typer.echo(render("digest", fmt, done.digests), nl=False)
    for error in done.errors:
        typer.echo(f"spfguard: error: digest not delivered ({safe(error)})", err=True)
    raise typer.Exit(ExitCode.INCOMPLETE if done.errors else ExitCode.OK)


@app.command("report")
def report(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="The HTML file to write.")],
    config: ConfigOption = None,
    state: StateOption = None,
    tenant: Annotated[str | None, typer.Option("--tenant", metavar="NAME", help="Only this tenant's domains.")]
    = None,
    domain: Annotated[str | None, typer.Option("--domain", metavar="DOMAIN", help="One domain's page.")] = None,
) -> None:
    """The fleet as one self-contained HTML page, from the store: every domain's latest state, sortable and
    filterable, with a timeline of its lookups and events and, with a [dmarc] mailbox, who sent as it."""
    from spfguard.app.monitor import fleet_report
    from spfguard.output import Output

    destination = Output(output)
    page = render("fleet", "html", fleet_report(_location(ctx, config, state), tenant,
                                                parse_domain(domain) if domain else None))
    with destination as out:
        out.write(page)
    typer.echo(f"fleet report written to {output}")
