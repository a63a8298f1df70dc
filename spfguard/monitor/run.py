"""One monitor run: check every configured domain concurrently, store snapshots, raise events, notify on
change, and return the exit code of the current state (0 healthy, 1 problems, 3 could not check)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from spfguard.audit import audit
from spfguard.dns.base import DnsClient, within
from spfguard.monitor import drift
from spfguard.monitor.alerts import AlertError, send_email, send_webhook
from spfguard.monitor.drift import Event
from spfguard.monitor.settings import MonitorSettings
from spfguard.monitor.snapshot import take
from spfguard.monitor.store import Store
from spfguard.policy import decide
from spfguard.tree import walk
from spfguard.vendors.coverage import sender_sets

WINDOW = 256  # domains in flight at once: memory stays bounded however long the list


@dataclass
class RunResult:
    exit_code: int
    events: list[Event] = field(default_factory=list)  # notified this run
    problems: int = 0
    incomplete: list[str] = field(default_factory=list)
    alert_errors: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    checked: int = 0


async def source_ranges(include: str, dns: DnsClient) -> list[str] | None:
    """The ranges an include authorises now (None when its tree cannot be read completely)."""
    tree = await walk(include, dns)
    if any(n.status != "ok" for n in tree.walk()) or any(t.error for n in tree.walk() for t in n.terms):
        return None
    policy = decide(tree)
    return [str(n) for v in (4, 6) for n in policy.passes(v).cidrs()]


async def _snapshots(settings: MonitorSettings, domains, dns: DnsClient, ms_version, flattened: dict):
    window = asyncio.Semaphore(WINDOW)
    expected = sorted({p for d in domains for p in d.expect})
    senders = {s.platform.name: s for s in await sender_sets(expected, dns)}

    async def one(domain):
        async with window:
            mine = [senders[p] for p in domain.expect]
            report = await audit(domain.name, dns, warn_lookups=settings.warn_lookups, senders=mine)
            sources = {}
            for include in flattened.get(domain.name, {}):
                ranges = await source_ranges(include, dns)
                if ranges is not None:
                    sources[include] = ranges
            return take(report, ms_version, mine, sources)

    return await asyncio.gather(*(one(d) for d in domains))


def run_once(settings: MonitorSettings, dns: DnsClient, store: Store, *, shard: tuple[int, int] = (0, 1),
             now: float | None = None, ms_version: str | None = None, auto_fix=None) -> RunResult:
    now = time.time() if now is None else now
    k, n = shard
    domains = [d for i, d in enumerate(settings.domains) if i % n == k]
    flattened = {d.name: store.flattened(d.name) for d in domains}
    snapshots = asyncio.run(_snapshots(settings, domains, dns, ms_version, flattened))
    result = RunResult(0, checked=len(domains))
    to_notify: list[Event] = []
    previous_version = store.last_ms_version()
    if ms_version and previous_version and ms_version != previous_version:
        to_notify.append(Event("*", "vendor-ranges-updated", "microsoft365",
                               f"Microsoft 365 endpoint data changed: version {previous_version} → {ms_version}"))
    pending: list[list] = []  # store writes, all in one transaction below
    for domain, snap in zip(domains, snapshots, strict=True):
        last = store.last_snapshot(domain.name)
        last_complete = store.last_snapshot(domain.name, complete=True)
        changes = drift.changes(snap, last_complete)
        current = drift.problems(snap, last, settings.warn_lookups)
        stored = store.problems(domain.name)
        if snap["incomplete"]:
            result.incomplete.append(domain.name)
        for (code, key), message in current.items():
            if (code, key) not in stored:
                to_notify.append(Event(domain.name, code, key, message))
                pending.append(["set", domain.name, code, key, message, now, None])  # None: notified now
                continue
            _, since, notified = stored[(code, key)]
            if not notified:  # the last notification failed: send it again
                to_notify.append(Event(domain.name, code, key, message))
                notified = None
            elif settings.remind_after is not None and now - notified >= settings.remind_after:
                to_notify.append(Event(domain.name, code, key, "still: " + message))
                notified = None
            pending.append(["set", domain.name, code, key, message, since, notified])
        for (code, key), (message, _, _) in stored.items():
            if (code, key) in current:
                continue
            if snap["incomplete"] and code != "check-failing":
                continue  # cannot tell whether it cleared
            to_notify.append(Event(domain.name, "resolved", f"{code}:{key}".rstrip(":"), f"resolved: {message}",
                                   {"problem": code}))
            pending.append(["clear", domain.name, code, key])
        to_notify.extend(changes)
        if auto_fix is not None and _only_vendor_drift(changes, current, snap, domain, flattened[domain.name]):
            moved = {e.key: flattened[domain.name][e.key] for e in changes
                     if e.code == "ranges-changed" and e.key in flattened[domain.name]}
            written = auto_fix(domain, moved)
            if written:
                result.fixed.append(f"{domain.name}: {written}")
        pending.append(["snapshot", snap])
    result.problems = sum(1 for p in pending if p[0] == "set")
    result.exit_code = 1 if result.problems else 3 if result.incomplete else 0
    notified = _notify(settings, to_notify, result)
    with store.transaction():  # a crash before this point leaves the store exactly as it was
        run_id = store.add_run(now, ms_version)
        for item in pending:
            if item[0] == "set":
                if item[6] is None:  # notified in this run: now, or 0 ("not yet") when sending failed
                    item[6] = now if notified else 0.0
                store.set_problem(*item[1:])
            elif item[0] == "clear":
                store.clear_problem(*item[1:])
            else:
                store.add_snapshot(run_id, item[1])
        for event in to_notify:
            store.add_event(run_id, event.domain, event.code, event.key, event.message, notified)
        store.finish_run(run_id, result.exit_code)
    result.events = to_notify
    return result


def _only_vendor_drift(changes: list[Event], current: dict, snap: dict, domain, sources: dict) -> bool:
    """Auto-fix only when the drift is a vendor's: coverage of an expected platform lost under a flattened record,
    or the ranges of an include the domain has flattened changed — and nothing else happened: no change of the
    domain's own records, no other problem."""
    if not domain.provider or snap["incomplete"]:
        return False
    own = snap["domain"]
    if any(e.code == "record-changed" and within(e.key, own) for e in changes):
        return False
    codes = {code for code, _ in current}
    if not codes <= {"coverage-lost"}:
        return False
    moved = any(e.code == "ranges-changed" and e.key in sources for e in changes)
    chained = any(name.startswith("_spf") and name.endswith("." + own) for name in snap["records"])
    return moved or (codes == {"coverage-lost"} and chained)


def _notify(settings: MonitorSettings, events: list[Event], result: RunResult) -> bool:
    if not events:
        return True
    ok = True
    sinks = []
    timeout = settings.alerts.timeout
    if settings.webhook:
        sinks.append(("webhook", lambda: send_webhook(settings.webhook, events, timeout)))
    if settings.email:
        sinks.append(("email", lambda: send_email(settings.email, events, timeout)))
    for name, send in sinks:
        try:
            send()
        except AlertError as err:
            ok = False
            result.alert_errors.append(f"{name}: {err}")
    return ok
