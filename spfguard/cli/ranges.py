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

from spfguard.cli.common import Exit, NameserverOption, RetriesOption, TimeoutOption, ZoneOption, make_dns
from spfguard.cli.output import Output
from spfguard.config import nearest
from spfguard.errors import UserError
from spfguard.textfile import read_text
from spfguard.vendors import allowlist as exports
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.msendpoints import INSTANCES, EndpointData, EndpointsClient

app = typer.Typer(
    rich_markup_mode=None,
    help="Sender ranges of Microsoft 365, Google Workspace, Mimecast …; allow-list exports.",
    no_args_is_help=True,
)
InstanceOption = Annotated[str, typer.Option("--instance", metavar="INSTANCE",
                                             help=f"Microsoft 365 instance: {', '.join(INSTANCES)}.")]


class ShowFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


class ExportFormat(StrEnum):
    text = "text"
    csv = "csv"


class Source(StrEnum):
    spf = "spf"
    endpoints = "endpoints"


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
    vendor: Annotated[str, typer.Argument(metavar="PLATFORM", help="A platform of `spfguard ranges list`.")],
    fmt: Annotated[ShowFormat, typer.Option("--format", "-f", metavar="FORMAT", help="text, json or csv.")]
    = ShowFormat.text,
    source: Annotated[Source, typer.Option("--source", metavar="SOURCE", help="spf: the ranges its SPF chain "
                                           "authorises (resolved now); endpoints: Microsoft's Exchange Online "
                                           "mail-flow ranges.")] = Source.spf,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """The current sender ranges of PLATFORM."""
    from spfguard.vendors.coverage import sender_set

    catalogue = load_catalogue()
    if vendor not in catalogue.platforms:
        guess = nearest(vendor, catalogue.platforms)
        raise UserError(f"unknown platform {vendor!r}{f'; did you mean {guess!r}?' if guess else ''} "
                        "(see `spfguard ranges list`)")
    platform = catalogue.platforms[vendor]
    note = None
    if source is Source.endpoints:
        if platform.endpoints is None:
            raise UserError(f"--source endpoints: only Microsoft publishes an endpoint service, not {vendor}")
        data = EndpointsClient().load(platform.endpoints, offline=bool(zone))
        networks = [str(n) for n in data.exchange_smtp_networks()]
        origin = f"Microsoft 365 endpoints {data.instance} version {data.version} ({data.source})"
        note = data.age_note()
    else:
        senders = asyncio.run(sender_set(platform, make_dns(zone, nameserver, timeout, retries)))
        if senders.error:
            typer.echo(f"spfguard: could not resolve {platform.include}: {senders.error}", err=True)
            raise typer.Exit(Exit.INCOMPLETE)
        networks = senders.cidrs()
        origin = f"SPF chain of include:{platform.include}"
    if fmt is ShowFormat.json:
        typer.echo(json.dumps({"platform": vendor, "source": origin, "ranges": networks,
                               **({"note": note} if note else {})}, indent=2))
    elif fmt is ShowFormat.csv:
        if note:
            typer.echo(f"# {note}")
        typer.echo("range,platform,source")
        for n in networks:
            typer.echo(f"{n},{vendor},{origin}")
    else:
        if note:
            typer.echo(f"# note: {note}")
        typer.echo(f"# {platform.display}: {len(networks)} range(s) from the {origin}")
        for n in networks:
            typer.echo(n)


def _warn(client: EndpointsClient) -> None:
    for warning in client.warnings:
        typer.echo(f"spfguard: warning: {warning}", err=True)


@app.command("update")
def update(instance: InstanceOption = "Worldwide") -> None:
    """Refresh the cached Microsoft 365 endpoint data: version check first, download only when it changed."""
    client = EndpointsClient()
    data, previous = client.update(instance)
    _warn(client)
    if data.source == "cache":
        typer.echo(f"Microsoft 365 endpoints ({instance}) are up to date: version {data.version}")
    else:
        was = f"{previous} → " if previous else ""
        typer.echo(f"Microsoft 365 endpoints ({instance}) updated: version {was}{data.version}, "
                   f"{len(data.sets)} endpoint sets, cached in {client.directory}")


def _stamp(data: EndpointData) -> str:
    if data.fetched_at is None:
        return data.version
    return f"{data.version}, fetched {datetime.datetime.fromtimestamp(data.fetched_at, datetime.UTC):%Y-%m-%d}"


@app.command("allowlist")
def allowlist(
    target: Annotated[Target, typer.Option("--for", metavar="CONSOLE",
                                           help="The console the list is for: mimecast or google-workspace.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", metavar="FORMAT", help="text or csv.")]
    = ExportFormat.text,
    previous: Annotated[Path | None, typer.Option("--previous", metavar="FILE", help="A previous export (text or "
                                                  "CSV, UTF-8, UTF-16 or Windows-1252): print only what changed "
                                                  "since.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Write the full export here.")] = None,
    instance: InstanceOption = "Worldwide",
) -> None:
    """Exchange Online's outbound ranges in the form the Mimecast or Google Workspace console takes."""
    destination = Output(output) if output is not None else None  # a bad --output is an error before anything
    client = EndpointsClient()
    data = client.load(instance)
    _warn(client)
    networks = data.exchange_smtp_networks()
    comment = f"Exchange Online outbound (Microsoft 365 endpoints {_stamp(data)})"
    text = exports.render(target.value, networks, fmt.value, comment)
    note = data.age_note()
    if note:
        typer.echo(f"note: {note}", err=True)
    old = None
    if previous is not None:  # read before anything is written: --previous and --output may be the same file
        old = exports.read_export(read_text(previous, "--previous", encodings=("utf-8", "utf-16", "cp1252")))
    if destination is not None:
        with destination as out:
            out.write(text)
    if old is not None:
        typer.echo(exports.diff(old, exports.for_target(target.value, networks)).render(), nl=False)
    elif output is None:
        typer.echo(text, nl=False)
    if target is Target.mimecast and any(n.version == 6 for n in networks):
        typer.echo("note: IPv6 ranges left out: Mimecast's Source IP Ranges field takes n.n.n.n/x", err=True)
