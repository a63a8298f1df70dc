"""``spfguard ranges``: the sender catalogue, vendor ranges, the Microsoft endpoint data and allow-list exports."""

from __future__ import annotations

import asyncio
import datetime
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from tabulate import tabulate

from spfguard.cli.common import Exit, NameserverOption, RetriesOption, TimeoutOption, UserError, ZoneOption, make_dns
from spfguard.vendors import allowlist as exports
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.coverage import sender_set
from spfguard.vendors.msendpoints import INSTANCES, EndpointsClient, EndpointsError

app = typer.Typer(
    rich_markup_mode=None,
    help="Sender ranges of Microsoft 365, Google Workspace, Mimecast …; allow-list exports.",
    no_args_is_help=True,
)


class ShowFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


class ExportFormat(StrEnum):
    text = "text"
    csv = "csv"


class Target(StrEnum):
    mimecast = "mimecast"
    google_workspace = "google-workspace"


@app.command("list")
def list_platforms() -> None:
    """The platforms of the catalogue and the include each one publishes."""
    rows = [[p.name, p.include, p.display] for p in load_catalogue().platforms.values()]
    typer.echo(tabulate(rows, headers=["platform", "include", "what"]))


@app.command("show")
def show(
    vendor: Annotated[str, typer.Argument(help="A platform of `spfguard ranges list`.")],
    fmt: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.text,
    source: Annotated[str, typer.Option("--source", help="spf: the ranges its SPF chain authorises (resolved "
                                        "now); endpoints: Microsoft's Exchange Online mail-flow ranges.")] = "spf",
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """The current sender ranges of VENDOR."""
    catalogue = load_catalogue()
    try:
        platform = catalogue.get(vendor)
    except KeyError as err:
        raise UserError(str(err.args[0])) from None
    if source == "endpoints":
        if platform.endpoints is None:
            raise UserError(f"--source endpoints: only Microsoft publishes an endpoint service, not {vendor}")
        data = _load_endpoints(platform.endpoints, offline=bool(zone))
        networks = [str(n) for n in data.exchange_smtp_networks()]
        origin = f"Microsoft 365 endpoints {data.instance} version {data.version} ({data.source})"
    elif source == "spf":
        senders = asyncio.run(sender_set(platform, make_dns(zone, nameserver, timeout, retries)))
        if senders.error:
            typer.echo(f"spfguard: could not resolve {platform.include}: {senders.error}", err=True)
            raise typer.Exit(Exit.INCOMPLETE)
        networks = senders.cidrs()
        origin = f"SPF chain of include:{platform.include}"
    else:
        raise UserError(f"--source must be spf or endpoints, not {source!r}")
    if fmt is ShowFormat.json:
        typer.echo(json.dumps({"platform": vendor, "source": origin, "ranges": networks}, indent=2))
    elif fmt is ShowFormat.csv:
        typer.echo("range,platform,source")
        for n in networks:
            typer.echo(f"{n},{vendor},{origin}")
    else:
        typer.echo(f"# {platform.display}: {len(networks)} range(s) from the {origin}")
        for n in networks:
            typer.echo(n)


def _load_endpoints(instance: str, offline: bool = False):
    try:
        return EndpointsClient().load(instance, offline=offline)
    except EndpointsError as err:
        raise UserError(str(err)) from None


@app.command("update")
def update(
    instance: Annotated[str, typer.Option("--instance", help=f"One of {', '.join(INSTANCES)}.")] = "Worldwide",
) -> None:
    """Refresh the cached Microsoft 365 endpoint data: version check first, download only when it changed."""
    client = EndpointsClient()
    try:
        data, previous = client.update(instance)
    except EndpointsError as err:
        typer.echo(f"spfguard: error: {err}", err=True)
        raise typer.Exit(Exit.INCOMPLETE) from None
    if data.source == "cache":
        typer.echo(f"Microsoft 365 endpoints ({instance}) are up to date: version {data.version}")
    else:
        was = f"{previous} → " if previous else ""
        typer.echo(f"Microsoft 365 endpoints ({instance}) updated: version {was}{data.version}, "
                   f"{len(data.sets)} endpoint sets, cached in {client.directory}")


@app.command("allowlist")
def allowlist(
    target: Annotated[Target, typer.Option("--for", help="The console the list is for.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.text,
    previous: Annotated[Path | None, typer.Option("--previous", help="A previous export: print only what "
                                                  "changed since.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the full export here.")] = None,
    instance: Annotated[str, typer.Option("--instance")] = "Worldwide",
) -> None:
    """Exchange Online's outbound ranges in the form the Mimecast or Google Workspace console takes."""
    data = _load_endpoints(instance)
    networks = data.exchange_smtp_networks()
    stamp = data.version if data.fetched_at is None else \
        f"{data.version}, fetched {datetime.datetime.fromtimestamp(data.fetched_at, datetime.UTC):%Y-%m-%d}"
    comment = f"Exchange Online outbound (Microsoft 365 endpoints {stamp})"
    text = exports.render(target.value, networks, fmt.value, comment)
    if output is not None:
        output.write_text(text)
    if previous is not None:
        try:
            old = exports.read_export(previous.read_text())
        except OSError as err:
            raise UserError(f"--previous {previous}: {err.strerror}") from None
        typer.echo(exports.diff(old, exports.for_target(target.value, networks)).render(), nl=False)
    elif output is None:
        typer.echo(text, nl=False)
    if target is Target.mimecast and any(n.version == 6 for n in networks):
        typer.echo("note: IPv6 ranges left out: Mimecast's Source IP Ranges field takes n.n.n.n/x", err=True)
