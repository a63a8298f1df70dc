"""``spfguard providers``: what ``--provider`` accepts here — the installed providers, their write guarantee and
the settings each reads — and the ones that can be installed."""

from __future__ import annotations

import json
import textwrap
from typing import Annotated

import typer
from tabulate import tabulate


def providers(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """The DNS providers --provider accepts: installed ones with their write guarantee and settings."""
    from spfguard.provider.registry import DISTRIBUTIONS, available, install_hint, provider_class

    rows = []
    for name in available():
        try:
            cls = provider_class(name)
        except Exception as err:  # noqa: BLE001 - a broken plugin is listed, not fatal
            rows.append({"provider": name, "installed": True, "error": str(err)})
            continue
        rows.append({"provider": name, "installed": True, "guarantee": cls.guarantee,
                     "settings": list(cls.settings_keys), "credentials": cls.credentials})
    rows += [{"provider": name, "installed": False, "install": install_hint(name)}
             for name in sorted(DISTRIBUTIONS) if name not in available()]
    if as_json:
        typer.echo(json.dumps({"version": 1, "providers": rows}, indent=2))
        return
    def wrap(text: str, width: int) -> str:  # at spaces only: names such as AZURE_CLIENT_ID stay whole
        return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)

    table = [[r["provider"], r.get("guarantee", r.get("error", "")), wrap(", ".join(r.get("settings", [])), 40),
              wrap(r.get("credentials", ""), 50)] for r in rows if r["installed"]]
    typer.echo(tabulate(table, headers=["provider", "write guarantee", "settings [providers.NAME]", "credentials"]))
    missing = [r for r in rows if not r["installed"]]
    if missing:
        typer.echo("\nnot installed: " + "; ".join(f"{r['provider']} ({r['install'].split(':')[0][8:]})"
                                                    for r in missing))
