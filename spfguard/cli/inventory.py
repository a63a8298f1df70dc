"""``spfguard inventory``: the public zones a DNS host's account holds, as the monitor's fleet CSV — to build the
domain list from the DNS host itself, and to refresh it (an existing file keeps its tenants, platforms and tags;
zones that are gone are dropped and named)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spfguard.cli.common import ConfigOption, render
from spfguard.cli.fix import ProviderOption
from spfguard.config import load_config
from spfguard.errors import UserError
from spfguard.output import Output


def inventory(
    provider: ProviderOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the CSV here; an "
                                                "existing file is refreshed (its columns kept).")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", metavar="NAME", help="The tenant of new zones.")] = None,
    config: ConfigOption = None,
) -> None:
    """The zones a provider's account holds, as a domain list for the monitor (domains_file)."""
    from spfguard.app.inventory import inventory as zones_of

    if provider is None:
        raise UserError("--provider NAME is required (`spfguard providers` lists them)")
    found = zones_of(provider, load_config(config), output, tenant)
    text = render("inventory", "csv", found)
    if output is None:
        typer.echo(text, nl=False)
    else:
        with Output(output) as out:
            out.write(text)
        typer.echo(f"{output}: {len(found.entries)} zone(s) from {provider} ({found.new} new, {len(found.gone)} "
                   "gone)", err=True)
    for name in found.gone:
        typer.echo(f"spfguard: note: {name} is no longer in the {provider} account: dropped from the list", err=True)
