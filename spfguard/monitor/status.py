"""Read-only views of the store: the fleet at a glance (``monitor status``), one domain's timeline (``monitor
history``) and the data of the fleet page (``monitor report``). No writes, no rendering."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from spfguard.monitor.store import HistoryEntry, Latest, ShardRun, Store

HISTORY_DAYS = 90
STATUS_VERSION = 1


@dataclass
class FleetStatus:
    shards: list[ShardRun]
    domains: int
    failing: list[str]
    problems_by_tenant: dict[str, dict[str, int]]
    alerts_pending: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"version": STATUS_VERSION, "shards": [s._asdict() for s in self.shards], "domains": self.domains,
                "failing": self.failing, "problems_by_tenant": self.problems_by_tenant,
                "alerts_pending": self.alerts_pending}


def fleet_status(store: Store) -> FleetStatus:
    latest = store.latest()
    by_tenant: dict[str, dict[str, int]] = {}
    for problem in store.open_problems():
        counts = by_tenant.setdefault(problem.tenant or "(none)", {})
        counts[problem.code] = counts.get(problem.code, 0) + 1
    return FleetStatus(store.shards(), len(latest), sorted(d.domain for d in latest if d.snapshot.incomplete),
                       by_tenant, store.pending_count())


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
