"""Renderers of ``eval``: the result, the deciding term, the path through includes (and every step with
``--trace``), or JSON."""

from __future__ import annotations

import json

from spfguard.report import Renderer
from spfguard.report.jsonout import evaluation_to_json
from spfguard.textsafe import safe


class EvalText(Renderer):
    def render(self, result) -> str:
        found = result.result
        lines = [f"{found.result}: {result.address} for {result.domain}"]
        if found.path:
            lines.append("  path: " + " → ".join(safe(step) for step in found.path))
        lines.append(f"  reason: {safe(found.reason)}")
        if found.explanation:
            lines.append(f"  explanation: {safe(found.explanation)}")
        lines.append(f"  lookups: {found.lookups}, void lookups: {found.void_lookups}")
        if self.options.verbose:
            lines.append("  trace:")
            lines += ["    " + safe(line) for step in found.trace for line in step.lines()]
        return "\n".join(lines) + "\n"


class EvalJson(Renderer):
    def render(self, result) -> str:
        return json.dumps(evaluation_to_json(result.address, result.result), indent=2) + "\n"
