"""Renderers of the monitor: a run's summary, ``monitor status``, ``monitor history`` and the digests."""

from __future__ import annotations

import datetime
import json

from tabulate import tabulate

from spfguard.monitor.digest import Digest
from spfguard.monitor.run import RunResult
from spfguard.monitor.status import DomainHistory, FleetStatus
from spfguard.report import Renderer
from spfguard.spf.limits import LOOKUP_LIMIT
from spfguard.textsafe import safe, safe_lines


def _when(stamp: float | None) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M") if stamp else "-"


class RunText(Renderer):
    """One line per event raised and per auto-fix, then the run's summary (left out with ``--quiet`` while
    healthy: ``options.extra["quiet"]``)."""

    def render(self, result: RunResult) -> str:
        lines = [f"{event.domain}: [{event.code}] {safe(event.message)}" for event in result.events]
        lines += [f"auto-fix: {safe(line)}" for line in result.fixed]
        status = {0: "healthy", 1: f"{result.problems} problem(s)",
                  3: "could not check " + ", ".join(result.incomplete)}[result.exit_code]
        if not self.options.extra.get("quiet") or result.events or result.fixed:
            lines.append(f"monitor: {result.checked} domain(s) checked, {len(result.events)} event(s), "
                         f"{result.delivered} alert(s) delivered, {status}")
        return "".join(line + "\n" for line in lines)


class StatusJson(Renderer):
    def render(self, result: FleetStatus) -> str:
        return json.dumps(result.to_json(), indent=2) + "\n"


class StatusTable(Renderer):
    def render(self, result: FleetStatus) -> str:
        rows = [[s.shard, _when(s.started), "running" if s.finished is None else f"{s.duration or 0:.1f}s",
                 s.checked, s.failing, s.problems, s.exit_code] for s in result.shards]
        lines = [tabulate(rows, headers=["shard", "last run (UTC)", "took", "checked", "failing", "problems", "exit"]),
                 f"\n{result.domains} domain(s) in the store, {len(result.failing)} failing to check"]
        for tenant, counts in sorted(result.problems_by_tenant.items()):
            lines.append(f"  {tenant}: " + ", ".join(f"{n} {code}" for code, n in sorted(counts.items())))
        if result.alerts_pending:
            lines.append("alerts not yet delivered: " + ", ".join(f"{sink} {n}" for sink, n in
                                                                    sorted(result.alerts_pending.items())))
        if result.missing_shards:
            lines.append(f"shards that should have run and never did: {', '.join(result.missing_shards)} (is "
                         "SPFGUARD_SHARDS larger than the shards that run?)")
        if result.late_shards:
            lines.append(f"shards whose last run is long before the others': {', '.join(result.late_shards)}")
        return "\n".join(lines) + "\n"


class HistoryJson(Renderer):
    def render(self, result: DomainHistory) -> str:
        return json.dumps(result.to_json(), indent=2) + "\n"


class HistoryTable(Renderer):
    def render(self, result: DomainHistory) -> str:
        if not result.entries:
            return f"no runs recorded for {result.domain}\n"
        rows = []
        for entry in result.entries:
            snap = entry.snapshot
            coverage = ", ".join(f"{p} {c['status']}" for p, c in snap.coverage.items()) or "-"
            events = "; ".join(f"[{ev['code']}] {safe(ev['message'])}" for ev in entry.events) or ""
            rows.append([_when(entry.at), "could not check" if entry.incomplete else
                         f"{snap.lookups}/{snap.limits.get('lookups', LOOKUP_LIMIT)}",
                         f"{snap.void_lookups}/{snap.void_lookups_ipv6}", coverage, events])
        return tabulate(rows, headers=["run (UTC)", "lookups", "voids v4/v6", "coverage", "events"],
                        maxcolwidths=[None, None, None, 40, 70]) + "\n"


class DigestText(Renderer):
    def render(self, result: list[Digest]) -> str:
        return "".join(safe_lines(item.text) + "\n\n" for item in result)


class DigestJson(Renderer):
    def render(self, result: list[Digest]) -> str:
        return json.dumps({"version": 1, "digests": [d.to_json() for d in result]}, indent=2) + "\n"
