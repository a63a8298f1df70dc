"""Renderer of ``inventory``: the fleet CSV the monitor reads (``domains_file``)."""

from __future__ import annotations

import csv
import io

from spfguard.report import Renderer
from spfguard.textsafe import csv_cell

COLUMNS = ["domain", "tenant", "expect", "provider", "tags"]


class InventoryCsv(Renderer):
    def render(self, result) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows([csv_cell(v) for v in (e.name, e.tenant or "", ";".join(e.expect),
                                                e.provider or result.provider, ";".join(e.tags))]
                         for e in result.entries)
        return buffer.getvalue()
