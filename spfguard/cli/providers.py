"""``spfguard providers``: what ``--provider`` accepts here — the installed providers, their write guarantee and
the settings each reads — and the ones that can be installed."""

from __future__ import annotations

from typing import Annotated

import typer

from spfguard.cli.common import render


def providers(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """The DNS providers --provider accepts: installed ones with their write guarantee and settings."""
    from spfguard.app.inventory import providers as installed

    typer.echo(render("providers", "json" if as_json else "table", installed()), nl=False)
