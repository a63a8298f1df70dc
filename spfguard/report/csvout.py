"""CSV: one row per domain (lookups, void lookups per family, verdict, worst severity, finding codes, coverage
per expected platform), for spreadsheets and bulk runs. Text from DNS is escaped as everywhere but JSON."""

from __future__ import annotations

import csv
import io

from spfguard.audit import Report
from spfguard.report import Renderer
from spfguard.report.text import worst
from spfguard.textsafe import csv_cell

COLUMNS = ["domain", "record", "lookups", "void_lookups", "void_lookups_ipv6", "verdict", "worst_severity",
           "findings", "parked"]


def csv_line(values: list) -> str:
    """One CSV row, every cell neutralised (:func:`spfguard.textsafe.csv_cell`)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([csv_cell(v) for v in values])
    return out.getvalue()


class CsvRenderer(Renderer):
    def _row(self, values: list) -> str:
        return csv_line(values)

    def begin(self) -> str:
        note = f"# {self.options.snapshot_note}\n" if self.options.snapshot_note else ""
        return note + self._row(COLUMNS + [f"coverage_{p}" for p in self.options.expect])

    def add(self, index: int, report: Report) -> str:
        codes = " ".join(sorted({f.code for f in report.findings}))
        coverage = []
        for platform in self.options.expect:
            cov = report.coverage.get(platform)
            coverage.append("" if cov is None else cov.status + (f" (missing {' '.join(cov.missing)})"
                                                                  if cov.missing else ""))
        return self._row([report.domain, report.record or "", report.lookups, report.voids4, report.voids6,
                          report.verdict, worst(report), codes, "true" if report.parked else "false", *coverage])
