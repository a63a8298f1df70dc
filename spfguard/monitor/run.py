"""One monitor run, in stages:

1. **check** — the shard's domains, concurrently (a bounded window); as each domain completes, the pure step
   (:mod:`spfguard.monitor.step`) turns its snapshot into events and problem updates, and the store records all
   of it — snapshot, problems, events and their deliveries — in one transaction;
2. **auto-fix** — for the domains whose only drift is a vendor's (``--auto-fix``);
3. **notify** — the outbox, one message per sink (:mod:`spfguard.monitor.delivery`);
4. **retention** — snapshots older than ``keep_runs`` runs.

The exit code is the current state of the shard: 0 healthy, 1 problems, 3 could not check.

Faults stay where they happen: anything that goes wrong while checking, fixing or notifying one domain becomes
that domain's error (it could not be checked; the traceback logged under ``SPFGUARD_DEBUG``), never the run's
end. The run always records its end and sends what it has.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field

from spfguard.audit import Report, audit, audit_stream
from spfguard.dns.base import DnsClient, within
from spfguard.errors import SpfguardError
from spfguard.findings import Finding
from spfguard.fix.chain import is_chain
from spfguard.monitor import ops
from spfguard.monitor.delivery import deliver, sinks_for
from spfguard.monitor.drift import Event
from spfguard.monitor.settings import DomainSettings, MonitorSettings
from spfguard.monitor.shard import in_shard
from spfguard.monitor.snapshot import Snapshot, take
from spfguard.monitor.step import step
from spfguard.monitor.store import Store, StoreError, worker_id
from spfguard.policy import decide
from spfguard.redact import redact
from spfguard.tree import Node, NodeStatus, walk_tree
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.coverage import sender_sets


@dataclass
class RunResult:
    exit_code: int
    events: list[Event] = field(default_factory=list)  # raised this run
    problems: int = 0
    incomplete: list[str] = field(default_factory=list)
    alert_errors: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    checked: int = 0
    problem_codes: Counter = field(default_factory=Counter)
    duration: float = 0.0
    delivered: int = 0
    errors: list[str] = field(default_factory=list)  # faults kept to their domain (or to a sink, a fix)


async def source_ranges(include: str, dns: DnsClient) -> list[str] | None:
    """The ranges an include authorises now (None when its tree cannot be read completely)."""
    tree = await walk_tree(include, dns)
    if any(n.status != "ok" for n in tree.walk()) or any(t.error for n in tree.walk() for t in n.terms):
        return None
    policy = decide(tree)
    return [*policy.passes(4).cidr_texts(), *policy.passes(6).cidr_texts()]


def shard_label(shard: tuple[int, int]) -> str:
    return f"{shard[0]}/{shard[1]}"


async def run_monitor(settings: MonitorSettings, dns: DnsClient, store: Store, *, shard: tuple[int, int] = (0, 1),
                      now: float | None = None, ms_version: str | None = None, auto_fix=None,
                      senders=None) -> RunResult:
    """``senders``: ``async (domain) -> summary | None``, who sent as the domain in the stored DMARC reports (the
    summary goes into the snapshot, where drift finds unauthorised and silent senders)."""
    started = time.monotonic()
    now = time.time() if now is None else now
    label = shard_label(shard)
    domains = [d for d in settings.domains if in_shard(d.name, shard)]
    run_id = store.begin_run(label, now, ms_version)
    result = RunResult(3, checked=len(domains))
    try:
        if ms_version:  # one shard of a fleet announces a change of the vendor data
            previous = store.announce("ms_version", ms_version)
            if previous is not None:
                platform = load_catalogue().endpoints_platform()
                event = Event("*", "vendor-ranges-updated", platform.name if platform else "endpoints",
                              f"{platform.endpoints_name if platform else 'Vendor endpoint data'} changed: version "
                              f"{previous} → {ms_version}")
                store.queue(run_id, [event], sinks_for(settings.alerts, None))
                result.events.append(event)

        candidates = await _check(settings, domains, dns, store, run_id, now, ms_version, result, senders)
        if auto_fix is not None:
            for domain, moved in candidates:
                written = await auto_fix(domain, moved)
                if written:
                    result.fixed.append(f"{domain.name}: {written}")

        delivery = deliver(store, settings.alerts, time.time(), worker_id(label))
        result.alert_errors = delivery.errors
        result.delivered = len(delivery.sent)
        if settings.keep_runs:
            store.prune(label, settings.keep_runs)
        result.exit_code = 1 if result.problems else 3 if result.incomplete else 0
    finally:  # the run's end is recorded whatever happened (a store that failed is said, not hidden)
        result.duration = time.monotonic() - started
        try:
            store.finish_run(run_id, result.exit_code, result.checked, len(result.incomplete), result.problems,
                             result.duration)
        except StoreError as err:
            result.errors.append(str(err))
    ops.emit("monitor run finished", shard=label, checked=result.checked, failing=len(result.incomplete),
             problems=result.problems, events=len(result.events), delivered=result.delivered,
             alert_errors=len(result.alert_errors), duration=round(result.duration, 3))
    return result


def failed_report(domain: str, err: BaseException) -> Report:
    """A domain whose check raised: it could not be checked (its error said), like a DNS failure."""
    message = f"{domain} could not be checked: {type(err).__name__}: {redact(err)}"
    tree = Node(domain, status=NodeStatus.TEMPERROR, error=message)
    return Report(domain, tree, findings=[Finding("temporary-failure", "error", message, domain)])


async def _isolated_audit(domain: str, dns: DnsClient, **kwargs) -> Report:
    try:
        return await audit(domain, dns, **kwargs)
    except asyncio.CancelledError:
        raise
    except Exception as err:  # noqa: BLE001 - one domain's fault is that domain's, never the run's end
        _log_fault(f"checking {domain}", err)
        return failed_report(domain, err)


def _log_fault(what: str, err: BaseException) -> None:
    ops.emit(f"{what} failed: {type(err).__name__}: {redact(err)}", logging.ERROR)
    if os.environ.get("SPFGUARD_DEBUG"):
        logging.getLogger(__name__).exception("%s failed", what)


async def _check(settings: MonitorSettings, domains: list[DomainSettings], dns: DnsClient, store: Store,
                 run_id: int, now: float, ms_version: str | None, result: RunResult,
                 senders=None) -> list[tuple[DomainSettings, dict]]:
    expected = sorted({p for d in domains for p in d.expect})
    expected_sets = {s.platform.name: s for s in await sender_sets(expected, dns)}
    by_name = {d.name: d for d in domains}
    candidates = []

    async def snapshots():
        async for index, report in audit_stream([d.name for d in domains], dns, warn_lookups=settings.warn_lookups,
                                                per_domain=lambda name: {"senders": [expected_sets[p] for p in
                                                                                     by_name[name].expect],
                                                                         "parked": by_name[name].parked},
                                                audit_fn=_isolated_audit):
            domain = domains[index]
            flattened = store.flattened(domain.name)
            try:
                sources = {}
                for include in flattened:
                    ranges = await source_ranges(include, dns)
                    if ranges is not None:
                        sources[include] = ranges
                snapshot = take(report, ms_version, [expected_sets[p] for p in domain.expect], sources, flattened)
                if senders is not None and not snapshot.incomplete:
                    snapshot.senders = await senders(domain.name)
            except Exception as err:  # noqa: BLE001 - this domain's fault
                _log_fault(f"checking {domain.name}", err)
                snapshot = take(failed_report(domain.name, err), ms_version)
            yield domain, flattened, snapshot

    async for domain, flattened, snapshot in snapshots():
        try:
            last, last_complete = store.last_snapshots(domain.name)
            outcome = step(domain.name, domain.tenant, snapshot, last, last_complete, store.problems(domain.name),
                           now=now, warn_lookups=settings.warn_lookups, remind_after=settings.remind_after,
                           notified=store.last_notified(domain.name))
            store.record_domain(run_id, domain.name, domain.tenant, snapshot, outcome.updates, outcome.events,
                                sinks_for(settings.alerts, domain.tenant))
        except StoreError:
            raise  # the store itself is gone: nothing more can be recorded
        except SpfguardError as err:  # e.g. a stored snapshot of a newer format
            result.errors.append(f"{domain.name}: {err}")
            result.incomplete.append(domain.name)
            continue
        except Exception as err:  # noqa: BLE001 - this domain's fault, never the run's end
            _log_fault(f"recording {domain.name}", err)
            result.errors.append(f"{domain.name}: {type(err).__name__}: {redact(err)}")
            result.incomplete.append(domain.name)
            continue
        result.events += outcome.events
        result.problems += outcome.open
        result.problem_codes.update(u.code for u in outcome.updates if u.message is not None)
        if outcome.incomplete:
            result.incomplete.append(domain.name)
            ops.emit("domain could not be checked", logging.WARNING, domain=domain.name, tenant=domain.tenant,
                     errors=snapshot.errors[:3])
        elif outcome.open:
            ops.emit("domain has problems", logging.WARNING, domain=domain.name, tenant=domain.tenant,
                     problems=sorted({u.code for u in outcome.updates if u.message is not None}))
        if _only_vendor_drift(outcome, snapshot, domain):
            stale = {u.key for u in outcome.updates if u.code == "ranges-changed" and u.message is not None}
            candidates.append((domain, {include: flattened[include] for include in stale if include in flattened}))
    return candidates


def _only_vendor_drift(outcome, snap: Snapshot, domain: DomainSettings) -> bool:
    """Auto-fix only when the drift is a vendor's: a flattened copy of an include gone stale (an open
    ``ranges-changed`` problem: on any run while it lasts), or coverage of an expected platform lost under a
    flattened record — and nothing else: no change of the domain's own records, no other problem."""
    if not domain.provider or snap.incomplete:
        return False
    own = snap.domain
    if any(e.code == "record-changed" and within(e.key, own) for e in outcome.events):
        return False
    codes = {u.code for u in outcome.updates if u.message is not None}
    if not codes or not codes <= {"coverage-lost", "ranges-changed"}:
        return False
    chained = any(is_chain(name, own) for name in snap.records)
    return "ranges-changed" in codes or chained


def run_once(settings: MonitorSettings, dns: DnsClient, store: Store, **kwargs) -> RunResult:
    """:func:`run_monitor` in its own event loop (one per run)."""
    return asyncio.run(run_monitor(settings, dns, store, **kwargs))
