"""``spfguard providers``: what ``--provider`` accepts here — the installed providers, their write guarantee and
the settings each reads — and the ones that can be installed."""

from __future__ import annotations

import json
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
    table = [[r["provider"], r.get("guarantee", r.get("error", "")), ", ".join(r.get("settings", [])),
              r.get("credentials", "")] for r in rows if r["installed"]]
    typer.echo(tabulate(table, headers=["provider", "write guarantee", "settings [providers.NAME]", "credentials"],
                        maxcolwidths=[None, None, 40, 50]))
    missing = [r for r in rows if not r["installed"]]
    if missing:
        typer.echo("\nnot installed: " + "; ".join(f"{r['provider']} ({r['install'].split(':')[0][8:]})"
                                                    for r in missing))
