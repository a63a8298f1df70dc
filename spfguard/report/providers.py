"""Renderers of ``providers``: what ``--provider`` accepts here."""

from __future__ import annotations

import json
import textwrap

from tabulate import tabulate

from spfguard.report import Renderer


def _wrap(text: str, width: int) -> str:  # at spaces only: names such as AZURE_CLIENT_ID stay whole
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


class ProvidersJson(Renderer):
    def render(self, result) -> str:
        return json.dumps({"version": 1, "providers": [r.to_json() for r in result]}, indent=2) + "\n"


class ProvidersTable(Renderer):
    def render(self, result) -> str:
        table = [[r.name, r.error or r.guarantee, _wrap(", ".join(r.settings), 40), _wrap(r.credentials, 50)]
                 for r in result if r.installed]
        lines = [tabulate(table, headers=["provider", "write guarantee", "settings [providers.NAME]",
                                          "credentials"])]
        missing = [r for r in result if not r.installed]
        if missing:
            lines.append("\nnot installed: " + "; ".join(f"{r.name} ({r.install.split(':')[0][8:]})"
                                                          for r in missing))
        return "\n".join(lines) + "\n"
