"""``spfguard inventory``: the public zones a DNS host's account holds, as the monitor's fleet CSV — to build the
domain list from the DNS host itself, and to refresh it (an existing file keeps its tenants, platforms and tags;
zones that are gone are dropped and named)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated

import typer

from spfguard.cli.common import ConfigOption
from spfguard.cli.fix import ProviderOption, load_provider_from
from spfguard.cli.output import Output
from spfguard.config import load_config
from spfguard.domains import DomainEntry, load_domain_list
from spfguard.errors import UserError

COLUMNS = ["domain", "tenant", "expect", "provider", "tags"]


def inventory(
    provider: ProviderOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the CSV here; an "
                                                "existing file is refreshed (its columns kept).")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", metavar="NAME", help="The tenant of new zones.")] = None,
    config: ConfigOption = None,
) -> None:
    """The zones a provider's account holds, as a domain list for the monitor (domains_file)."""
    if provider is None:
        raise UserError("--provider NAME is required (`spfguard providers` lists them)")
    zones = load_provider_from(provider, load_config(config)).list_zones()
    known: dict[str, DomainEntry] = {}
    if output is not None and output.exists():
        known = {e.name: e for e in load_domain_list(output)}
    rows = []
    for zone in zones:
        entry = known.get(zone) or DomainEntry(zone, tenant, [], provider)
        rows.append([entry.name, entry.tenant or "", ";".join(entry.expect), entry.provider or provider,
                     ";".join(entry.tags)])
    gone = sorted(set(known) - set(zones))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    if output is None:
        typer.echo(buffer.getvalue(), nl=False)
    else:
        with Output(output) as out:
            out.write(buffer.getvalue())
        new = len([z for z in zones if z not in known])
        typer.echo(f"{output}: {len(zones)} zone(s) from {provider} ({new} new, {len(gone)} gone)", err=True)
    for name in gone:
        typer.echo(f"spfguard: note: {name} is no longer in the {provider} account: dropped from the list", err=True)
