"""Every command's output, behind one interface and one registry (after octoDNS's plan outputs): a renderer is
registered by command and format name, ``--format`` offers exactly the registered names, and the CLI only picks
one. A new output format is one module and one line in :data:`OUTPUTS`.

A renderer turns a use case's result into text: :meth:`Renderer.render` for one result; ``check`` streams, so its
renderers also offer :meth:`Renderer.begin`, :meth:`Renderer.add` (each report in input order, not kept) and
:meth:`Renderer.end`. Text from DNS or a server is escaped (:mod:`spfguard.textsafe`) in every text format; JSON
keeps exact values and is versioned.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from spfguard.errors import UserError
from spfguard.textsafe import use_color

__all__ = ["OUTPUTS", "Options", "Renderer", "formats", "register", "renderer", "use_color"]

# command -> format -> "module:Class" (the first format is the default; modules are imported only when used)
OUTPUTS: dict[str, dict[str, str]] = {
    "check": {"table": "spfguard.report.text:TableRenderer", "tree": "spfguard.report.tree:TreeRenderer",
              "json": "spfguard.report.jsonout:JsonRenderer", "csv": "spfguard.report.csvout:CsvRenderer",
              "summary": "spfguard.report.text:SummaryRenderer", "html": "spfguard.report.html:HtmlRenderer",
              "sarif": "spfguard.report.ci:SarifRenderer", "junit": "spfguard.report.ci:JunitRenderer"},
    "eval": {"text": "spfguard.report.evaluation:EvalText", "json": "spfguard.report.evaluation:EvalJson"},
    "plan": {"text": "spfguard.report.plan:PlanText", "json": "spfguard.report.plan:PlanJson",
             "html": "spfguard.report.html:PlanHtml"},
    "applied": {"text": "spfguard.report.plan:AppliedText"},
    "rollback": {"text": "spfguard.report.plan:RollbackText"},
    "senders": {"text": "spfguard.report.senders:SendersText", "json": "spfguard.report.senders:SendersJson",
                "csv": "spfguard.report.senders:SendersCsv", "html": "spfguard.report.senders:SendersHtml"},
    "monitor-run": {"text": "spfguard.report.monitor:RunText"},
    "status": {"table": "spfguard.report.monitor:StatusTable", "json": "spfguard.report.monitor:StatusJson"},
    "history": {"table": "spfguard.report.monitor:HistoryTable", "json": "spfguard.report.monitor:HistoryJson"},
    "digest": {"text": "spfguard.report.monitor:DigestText", "json": "spfguard.report.monitor:DigestJson"},
    "fleet": {"html": "spfguard.report.fleet:FleetHtml"},
    "platforms": {"table": "spfguard.report.ranges:PlatformsTable", "json": "spfguard.report.ranges:PlatformsJson"},
    "ranges": {"text": "spfguard.report.ranges:RangesText", "json": "spfguard.report.ranges:RangesJson",
               "csv": "spfguard.report.ranges:RangesCsv"},
    "allowlist": {"text": "spfguard.report.ranges:AllowlistText", "csv": "spfguard.report.ranges:AllowlistCsv"},
    "connector-plan": {"powershell": "spfguard.report.connector:PowerShell",
                       "checklist": "spfguard.report.connector:Checklist",
                       "json": "spfguard.report.connector:ConnectorJson"},
    "connector-validate": {"table": "spfguard.report.connector:ValidationTable",
                           "json": "spfguard.report.connector:ValidationJson"},
    "connector-check": {"table": "spfguard.report.connector:ConnectorCheckTable",
                        "json": "spfguard.report.connector:ConnectorCheckJson"},
    "providers": {"table": "spfguard.report.providers:ProvidersTable",
                  "json": "spfguard.report.providers:ProvidersJson"},
    "inventory": {"csv": "spfguard.report.inventory:InventoryCsv"},
}


@dataclass(frozen=True)
class Options:
    expect: tuple[str, ...] = ()  # the expected platforms (CSV columns)
    verbose: bool = False  # list ranges instead of counting them; every step of an evaluation
    color: bool = False
    detail: bool = True  # a single domain: its term table too
    dry_run: bool = True  # a plan that is only shown
    snapshot_note: str | None = None  # e.g. the age of offline data, shown once
    extra: dict = field(default_factory=dict)


class Renderer:
    def __init__(self, options: Options | None = None):
        self.options = options or Options()

    def render(self, result: Any) -> str:
        """The whole output for one result."""
        return self.begin() + self.add(0, result) + self.end()

    def begin(self) -> str:
        return ""

    def add(self, index: int, result: Any) -> str:
        raise NotImplementedError

    def end(self) -> str:
        return ""


def formats(command: str) -> tuple[str, ...]:
    """The format names ``command`` offers, the default first."""
    return tuple(OUTPUTS[command])


def register(command: str, fmt: str, target: str) -> None:
    """Add (or replace) a renderer: ``target`` is "module:Class"."""
    OUTPUTS.setdefault(command, {})[fmt] = target


def renderer(command: str, fmt: str, options: Options | None = None) -> Renderer:
    try:
        module, _, name = OUTPUTS[command][fmt].partition(":")
    except KeyError:
        raise UserError(f"--format {fmt}: not an output of {command} (choose from "
                        f"{', '.join(OUTPUTS.get(command, {}))})") from None
    cls = getattr(importlib.import_module(module), name)
    return cls(options)
