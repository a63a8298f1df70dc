"""``check`` for CI systems: SARIF 2.1.0 (code-scanning annotations) and JUnit XML.

SARIF: one run, the rules from the finding catalogue (:data:`spfguard.findings.CODES`, with the advice as help),
one result per finding — at the zone file and line of the record it is about when the record came from a file
(``--zone``, ``--record-file``), else at the domain as a logical location. JUnit: one test suite, one test case per
domain, failed by findings at or above ``--fail-on`` (each finding one ``<failure>`` line; the rest in
``<system-out>``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from spfguard.audit import Report
from spfguard.findings import CODES, HINTS, Finding, severity_rank
from spfguard.report import Renderer

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spfguard")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "0"


def record_name(finding: Finding, domain: str) -> str:
    """The name of the record a finding is about: the last step of its ``where`` (``aacn.org > include:x`` -> x)."""
    last = (finding.where or domain).split(" > ")[-1]
    for prefix in ("include:", "redirect="):
        if last.lower().lstrip("+-~?").startswith(prefix):
            return last.lstrip("+-~?")[len(prefix):].rstrip(".")
    return last.rstrip(".") or domain


def _uri(path: Path) -> str:
    """A path as a SARIF artifact URI: relative to the working directory when below it (what a repository's
    code-scanning maps to its files), else absolute."""
    try:
        return Path(os.path.relpath(path)).as_posix() if not os.path.relpath(path).startswith("..") else \
            path.resolve().as_uri()
    except ValueError:
        return path.resolve().as_uri()


class SarifRenderer(Renderer):
    def begin(self) -> str:
        self._results: list[dict] = []
        self._codes: set[str] = set()
        return ""

    def add(self, index: int, result: Report) -> str:
        locate = self.options.extra.get("locate")
        for finding in result.findings:
            name = record_name(finding, result.domain)
            where = locate(name) if locate is not None else None
            location: dict
            if where is not None:
                location = {"physicalLocation": {"artifactLocation": {"uri": _uri(where[0])},
                                                 "region": {"startLine": where[1]}},
                            "logicalLocations": [{"name": name, "kind": "resource"}]}
            else:
                location = {"logicalLocations": [{"name": name, "fullyQualifiedName": finding.where or name,
                                                  "kind": "resource"}]}
            self._codes.add(finding.code)
            self._results.append({
                "ruleId": finding.code, "level": LEVELS.get(finding.severity, "note"),
                "message": {"text": f"{result.domain}: {finding.message}"},
                "locations": [location],
                "partialFingerprints": {"spfguard/v1": f"{result.domain}|{finding.code}|{finding.term or ''}"},
                **({"occurrenceCount": finding.count} if finding.count > 1 else {}),
            })
        return ""

    def end(self) -> str:
        rules = [{"id": code, "name": code, "shortDescription": {"text": CODES.get(code, code)},
                  **({"help": {"text": HINTS[code]}} if code in HINTS else {}),
                  "helpUri": "https://github.com/spfguard/spfguard#findings"} for code in sorted(self._codes)]
        log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
            "tool": {"driver": {"name": "spfguard", "version": _version(), "semanticVersion": _version(),
                                "informationUri": "https://github.com/spfguard/spfguard", "rules": rules}},
            "results": [{**r, "ruleIndex": sorted(self._codes).index(r["ruleId"])} for r in self._results],
            "columnKind": "unicodeCodePoints"}]}
        return json.dumps(log, indent=2) + "\n"


class JunitRenderer(Renderer):
    def begin(self) -> str:
        self._cases: list[str] = []
        self._failures = self._errors = 0
        return ""

    def add(self, index: int, result: Report) -> str:
        threshold = severity_rank(self.options.extra.get("fail_on", "error"))
        failing = [f for f in result.findings if severity_rank(f.severity) >= threshold
                   and f.code != "temporary-failure"]
        errors = [f for f in result.findings if f.code == "temporary-failure"]
        body = []
        for finding in failing:
            body.append(f"<failure type={quoteattr(finding.code)} message={quoteattr(finding.message)}>"
                        f"{escape(f'{finding.severity} {finding.code} at {finding.where}: {finding.message}')}"
                        "</failure>")
        if errors and not failing:
            body.append(f"<error type=\"temporary-failure\" message={quoteattr(errors[0].message)}/>")
        others = [f"{f.severity} {f.code}: {f.message}" for f in result.findings
                  if f not in failing and f not in errors]
        summary = "\n".join([f"verdict {result.verdict}, {result.lookups} lookups", *others])
        body.append(f"<system-out>{escape(summary)}</system-out>")
        self._failures += bool(failing)
        self._errors += bool(errors and not failing)
        self._cases.append(f'  <testcase classname="spfguard.check" name={quoteattr(result.domain)}>'
                           + "".join(body) + "</testcase>")
        return ""

    def end(self) -> str:
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<testsuites><testsuite name="spfguard check" tests="{len(self._cases)}" failures="{self._failures}" '
                f'errors="{self._errors}">\n' + "\n".join(self._cases) + "\n</testsuite></testsuites>\n")
