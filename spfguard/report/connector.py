"""Renderers of ``connector``: the plan (PowerShell, admin-center checklist, JSON), the validation table, the
consistency check."""

from __future__ import annotations

import json

from tabulate import tabulate

from spfguard.connector import render as scripts
from spfguard.report import Renderer
from spfguard.textsafe import safe


class PowerShell(Renderer):
    def render(self, result) -> str:
        return scripts.powershell(result)


class Checklist(Renderer):
    def render(self, result) -> str:
        return scripts.checklist(result)


class ConnectorJson(Renderer):
    def render(self, result) -> str:
        return json.dumps(result.to_json(), indent=2) + "\n"


class ValidationTable(Renderer):
    def render(self, result) -> str:
        rows = [[safe(c.title), c.status, safe(c.reason or "")] for c in result.checks]
        return tabulate(rows, headers=["Check", "Status", "Reason"], maxcolwidths=[None, None, 80]) + "\n"


ValidationJson = ConnectorJson
ConnectorCheckJson = ConnectorJson


class ConnectorCheckTable(Renderer):
    def render(self, result) -> str:
        rows = [[r.domain, r.spf, ", ".join(r.mx_platforms) or safe(", ".join(r.mx)) or "(no MX)"]
                for r in result.domains]
        lines = [tabulate(rows, headers=["domain", "Exchange Online in SPF", "MX platform"])]
        if result.findings:
            lines += ["", tabulate([[f.severity, f.code, safe(f.message)] for f in result.findings],
                                   headers=["severity", "code", "message"], maxcolwidths=[None, None, 90])]
        for target, ranges in result.allowlists.items():
            lines.append(f"\nAllow-list Exchange Online at {result.consoles.get(target, target)} ({len(ranges)} "
                         f"ranges; `spfguard ranges allowlist --for {target}`):")
            lines.append("\n".join(f"  {r}" for r in ranges))
        return "\n".join(lines) + "\n"
