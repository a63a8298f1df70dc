"""Renderers of check reports, behind one interface (after octoDNS's plan outputs): the CLI only picks one.

A renderer streams: :meth:`Renderer.begin`, then :meth:`Renderer.add` for each report in input order (reports
are not kept), then :meth:`Renderer.end`. Each returns text to write. Formats: ``table`` (text), ``tree``,
``json`` (versioned: ``spfguard/schema/check.schema.json``), ``csv``, ``summary`` (one line per domain) and
``html`` (one self-contained file).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from spfguard.audit import Report

FORMATS = ("table", "tree", "json", "csv", "summary", "html")


@dataclass(frozen=True)
class Options:
    expect: tuple[str, ...] = ()  # the expected platforms (CSV columns)
    verbose: bool = False  # list ranges instead of counting them
    color: bool = False
    detail: bool = True  # a single domain: its term table too
    snapshot_note: str | None = None  # e.g. the age of offline data, shown once
    extra: dict = field(default_factory=dict)


class Renderer:
    def __init__(self, options: Options):
        self.options = options

    def begin(self) -> str:
        return ""

    def add(self, index: int, report: Report) -> str:
        raise NotImplementedError

    def end(self) -> str:
        return ""


def renderer(fmt: str, options: Options) -> Renderer:
    if fmt == "json":
        from spfguard.report.jsonout import JsonRenderer
        return JsonRenderer(options)
    if fmt == "csv":
        from spfguard.report.csvout import CsvRenderer
        return CsvRenderer(options)
    if fmt == "tree":
        from spfguard.report.tree import TreeRenderer
        return TreeRenderer(options)
    if fmt == "summary":
        from spfguard.report.text import SummaryRenderer
        return SummaryRenderer(options)
    if fmt == "html":
        from spfguard.report.html import HtmlRenderer
        return HtmlRenderer(options)
    from spfguard.report.text import TableRenderer
    return TableRenderer(options)


def use_color(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    stream = stream or sys.stdout
    return bool(stream.isatty()) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
