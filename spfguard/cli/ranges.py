"""``spfguard ranges``: the sender catalogue, vendor ranges, the Microsoft endpoint data and allow-list exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from spfguard.cli.common import (
    ConfigOption,
    NameserverOption,
    RetriesOption,
    TimeoutOption,
    ZoneOption,
    choice_option,
    dns_options,
    format_option,
    render,
)
from spfguard.config import load_config
from spfguard.output import Output
from spfguard.textsafe import safe
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.msendpoints import INSTANCES

app = typer.Typer(
    rich_markup_mode=None,
    help="Sender ranges of Microsoft 365, Google Workspace, Mimecast …; allow-list exports.",
    no_args_is_help=True,
)
InstanceOption = Annotated[str, typer.Option("--instance", metavar="INSTANCE",
                                             help=f"Microsoft 365 instance: {', '.join(INSTANCES)}.")]
ListFormat = Annotated[str, format_option("platforms")]
ShowFormat = Annotated[str, format_option("ranges")]
ExportFormat = Annotated[str, format_option("allowlist")]


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        typer.echo(f"spfguard: warning: {safe(warning)}", err=True)


@app.command("list")
def list_platforms(fmt: ListFormat = "table", config: ConfigOption = None) -> None:
    """The platforms of the catalogue, the include each one publishes and the file it comes from (built in, the
    XDG folder's catalogue.toml and catalogue.d/*.toml, or the config's [catalogue] files)."""
    load_config(config)
    typer.echo(render("platforms", fmt, load_catalogue()), nl=False)


@app.command("show")
def show(
    vendor: Annotated[str, typer.Argument(metavar="PLATFORM", help="A platform of `spfguard ranges list`.")],
    fmt: ShowFormat = "text",
    source: Annotated[Literal["spf", "endpoints"], typer.Option(
        "--source", metavar="SOURCE", help="spf: the ranges its SPF chain authorises (resolved now); endpoints: "
        "Microsoft's Exchange Online mail-flow ranges.")] = "spf",
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """The current sender ranges of PLATFORM."""
    from spfguard.app.ranges import show as ranges_of

    found = ranges_of(load_catalogue(), vendor, source, dns_options(zone, nameserver, timeout, retries))
    typer.echo(render("ranges", fmt, found), nl=False)


@app.command("update")
def update(instance: InstanceOption = "Worldwide") -> None:
    """Refresh the cached Microsoft 365 endpoint data: version check first, download only when it changed."""
    from spfguard.app.ranges import update as refresh

    done = refresh(instance)
    _warn(done.warnings)
    if done.current:
        typer.echo(f"Microsoft 365 endpoints ({instance}) are up to date: version {done.version}")
    else:
        was = f"{done.previous} → " if done.previous else ""
        typer.echo(f"Microsoft 365 endpoints ({instance}) updated: version {was}{done.version}, "
                   f"{done.sets} endpoint sets, cached in {done.cached_in}")


@app.command("allowlist")
def allowlist(
    target: Annotated[str, choice_option("--for", choices=tuple(load_catalogue().allowlists), metavar="CONSOLE",
                                         help_text="The console the list is for: "
                                                   f"{' or '.join(load_catalogue().allowlists)}.")],
    fmt: ExportFormat = "text",
    previous: Annotated[Path | None, typer.Option("--previous", metavar="FILE", help="A previous export (text or "
                                                  "CSV, UTF-8, UTF-16 or Windows-1252): print only what changed "
                                                  "since.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Write the full export here.")] = None,
    instance: InstanceOption = "Worldwide",
) -> None:
    """Exchange Online's outbound ranges in the form the Mimecast or Google Workspace console takes."""
    from spfguard.app.ranges import allowlist as export

    destination = Output(output) if output is not None else None  # a bad --output is an error before anything
    result = export(load_catalogue(), target, fmt, instance, previous)
    _warn(result.warnings)
    if result.note:
        typer.echo(f"note: {result.note}", err=True)
    if destination is not None:
        with destination as out:
            out.write(result.text)
    if result.diff is not None or output is None:
        typer.echo(render("allowlist", fmt, result), nl=False)
    if result.left_out:
        typer.echo(f"note: {result.left_out}", err=True)
