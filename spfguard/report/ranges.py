"""Renderers of ``ranges``: the catalogue, a platform's ranges, the allow-list exports."""

from __future__ import annotations

import csv
import io
import json

from tabulate import tabulate

from spfguard.report import Renderer
from spfguard.textsafe import csv_cell
from spfguard.vendors.catalogue import Catalogue


class PlatformsTable(Renderer):
    def render(self, result: Catalogue) -> str:
        rows = [[p.name, p.include, p.display, p.origin] for p in result.platforms.values()]
        return tabulate(rows, headers=["platform", "include", "what", "from"]) + "\n"


class PlatformsJson(Renderer):
    def render(self, result: Catalogue) -> str:
        return json.dumps({"version": 1, "platforms": [
            {"platform": p.name, "display": p.display, "include": p.include, "aliases": list(p.aliases),
             "source": p.source, "kind": p.kind, "origin": p.origin} for p in result.platforms.values()]},
                          indent=2) + "\n"


class RangesText(Renderer):
    def render(self, result) -> str:
        lines = [f"# note: {result.note}"] if result.note else []
        lines.append(f"# {result.display}: {len(result.networks)} range(s) from the {result.origin}")
        return "\n".join(lines + result.networks) + "\n"


class RangesJson(Renderer):
    def render(self, result) -> str:
        return json.dumps({"platform": result.platform, "source": result.origin, "ranges": result.networks,
                           **({"note": result.note} if result.note else {})}, indent=2) + "\n"


class RangesCsv(Renderer):
    def render(self, result) -> str:
        out = io.StringIO()
        if result.note:
            out.write(f"# {result.note}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["range", "platform", "source"])
        writer.writerows([csv_cell(n), csv_cell(result.platform), csv_cell(result.origin)] for n in result.networks)
        return out.getvalue()


class AllowlistText(Renderer):
    """The export as the console takes it — or, with ``--previous``, only what changed since."""

    def render(self, result) -> str:
        return result.diff if result.diff is not None else result.text


AllowlistCsv = AllowlistText  # the CSV form is made by the export itself (the console's own header)
