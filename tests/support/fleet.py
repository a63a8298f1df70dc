"""A monitor store filled with a synthetic fleet (for the fleet report's tests and benchmark): real snapshots of
the fixture domains, copied under N names over several runs, with tenants and events."""

from __future__ import annotations

import asyncio
import copy
import time
from pathlib import Path

from spfguard.audit import audit
from spfguard.dns.zonefile import ZoneFileDns
from spfguard.monitor.drift import Event
from spfguard.monitor.snapshot import take
from spfguard.monitor.store import ProblemUpdate, SqliteStore

ROOT = Path(__file__).resolve().parent.parent.parent
TENANTS = ("acme", "globex", "initech", "")


def fill(path: Path, count: int, runs: int = 6, start: float | None = None) -> SqliteStore:
    start = time.time() - runs * 86400 if start is None else start
    dns = ZoneFileDns.load(ROOT / "fixtures" / "zones", ROOT / "fixtures" / "zones-test")
    samples = []
    for name in ("aacn.org", "over.spfguard.test", "deep.spfguard.test", "v6voids.spfguard.test", "mon.spfguard.test"):
        report = asyncio.run(audit(name, dns))
        samples.append(take(report, None))
    store = SqliteStore(path)
    for run in range(runs):
        run_id = store.begin_run("0/1", start + run * 86400, None)
        for n in range(count):
            sample = copy.deepcopy(samples[(n + (run if n % 7 == 0 else 0)) % len(samples)])
            domain = f"client{n:04d}.example"
            sample.domain = domain
            tenant = TENANTS[n % len(TENANTS)] or None
            events, updates = [], []
            if sample.lookups > 10:
                events.append(Event(domain, "lookups-over-limit", "", f"{domain} needs {sample.lookups} lookups",
                                    tenant=tenant))
                updates.append(ProblemUpdate("lookups-over-limit", "", "over", start, start))
            store.record_domain(run_id, domain, tenant, sample, updates, events if run else [], [])
        store.finish_run(run_id, 1, count, 0, 0, 1.0)
    return store
