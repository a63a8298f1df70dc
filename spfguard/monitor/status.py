"""Read-only views of the store: the fleet at a glance (``monitor status``), one domain's timeline (``monitor
history``) and the data of the fleet page (``monitor report``). No writes, no rendering."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from spfguard.monitor.store import HistoryEntry, Latest, ShardRun, Store

HISTORY_DAYS = 90
STATUS_VERSION = 1
STALE_AFTER = 36 * 3600.0  # a nightly shard whose last run is this much older than the fleet's newest is late


def _count(label: str) -> int:
    k, _, n = label.partition("/")
    return int(n) if n.isdigit() else 1


def shard_runs(shards: list[ShardRun], current: str | None = None) -> dict[str, float]:
    """Shard -> when its last run started; the fleet's shards that never ran at all (of the shard count of
    ``current``, else of the newest run) are there with 0, so a missing shard shows in the metrics."""
    out = {s.shard: s.started for s in shards}
    newest = current or max(shards, key=lambda s: s.started).shard if shards else current
    if newest:
        count = _count(newest)
        for k in range(count if count > 1 else 0):
            out.setdefault(f"{k}/{count}", 0.0)
    return out


@dataclass
class FleetStatus:
    shards: list[ShardRun]
    domains: int
    failing: list[str]
    problems_by_tenant: dict[str, dict[str, int]]
    alerts_pending: dict[str, int]
    missing_shards: list[str] = field(default_factory=list)  # of the fleet's shard count, never run
    late_shards: list[str] = field(default_factory=list)  # last run long before the fleet's newest

    @property
    def healthy(self) -> bool:
        """Every shard the fleet has ran lately (problems of domains are the monitor's own findings)."""
        return not self.missing_shards and not self.late_shards

    def to_json(self) -> dict[str, Any]:
        return {"version": STATUS_VERSION, "shards": [s._asdict() for s in self.shards], "domains": self.domains,
                "failing": self.failing, "problems_by_tenant": self.problems_by_tenant,
                "alerts_pending": self.alerts_pending, "missing_shards": self.missing_shards,
                "late_shards": self.late_shards}


def fleet_status(store: Store, stale_after: float = STALE_AFTER) -> FleetStatus:
    latest = store.latest()
    by_tenant: dict[str, dict[str, int]] = {}
    for problem in store.open_problems():
        counts = by_tenant.setdefault(problem.tenant or "(none)", {})
        counts[problem.code] = counts.get(problem.code, 0) + 1
    shards = store.shards()
    runs = shard_runs(shards)
    newest = max(runs.values(), default=0.0)
    count = _count(max(shards, key=lambda s: s.started).shard) if shards else 1
    fleet_shards = {label: at for label, at in runs.items() if _count(label) == count}
    return FleetStatus(shards, len(latest), sorted(d.domain for d in latest if d.snapshot.incomplete),
                       by_tenant, store.pending_count(),
                       sorted(label for label, at in fleet_shards.items() if at == 0.0),
                       sorted(label for label, at in fleet_shards.items() if 0.0 < at < newest - stale_after))


@dataclass
class DomainHistory:
    domain: str
    entries: list[HistoryEntry]

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json() for e in self.entries]


def domain_history(store: Store, domain: str, limit: int = 50) -> DomainHistory:
    return DomainHistory(domain, store.history(domain, limit))


@dataclass
class Fleet:
    """What the fleet page shows: every domain's latest snapshot, its lookups per run and its events."""

    tenant: str | None
    latest: list[Latest]
    timelines: dict[str, list[tuple[float, int | None, bool]]] = field(default_factory=dict)
    events: dict[str, list[tuple[float, str, str]]] = field(default_factory=dict)  # (at, code, message)


def fleet(store: Store, tenant: str | None = None, days: int = HISTORY_DAYS) -> Fleet:
    since = time.time() - days * 86400
    events: dict[str, list[tuple[float, str, str]]] = {}
    for event in store.events_since(since, tenant):
        events.setdefault(event.domain, []).append((event.at or since, event.code, event.message))
    return Fleet(tenant, store.latest(tenant), store.timelines(since), events)
