"""The monitor's use cases: one run (check, auto-fix, notify, retention), status, history, the fleet page's data
and the digests — each from the :class:`~spfguard.config.Config` and the store it names."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from spfguard.app.dns import DnsOptions, open_dns
from spfguard.config import Config
from spfguard.dns.base import DnsClient
from spfguard.errors import IncompleteError, SpfguardError, UserError
from spfguard.monitor.alerts import AlertError
from spfguard.monitor.digest import Digest, build_digests, send_digests
from spfguard.monitor.location import StateLocation, state_location
from spfguard.monitor.run import RunResult, run_monitor, shard_label
from spfguard.monitor.settings import DomainSettings, MonitorSettings
from spfguard.monitor.status import DomainHistory, Fleet, FleetStatus, domain_history, fleet, fleet_status, shard_runs
from spfguard.monitor.store import Busy, Store, open_store
from spfguard.redact import redact
from spfguard.senders.mailbox import DmarcSettings
from spfguard.textsafe import safe

log = logging.getLogger(__name__)


def settings_for(config: Config, state: str | None = None) -> MonitorSettings:
    """``[monitor]`` of the config, with ``--state`` (from the current folder) in place of its ``state``."""
    settings = config.require_monitor()
    if state is not None:
        settings.state = state_location(state, Path.cwd())
    return settings


def location_for(config: Config, state: str | None) -> StateLocation:
    """The store a read-only command reads: ``--state``, else the config's ``[monitor] state``, else the
    default."""
    if state is not None:
        return state_location(state, Path.cwd())
    return config.state


def open_existing(location: StateLocation) -> Store:
    """For the commands that only look: read-only, nothing created (a read-only database role is enough)."""
    if not location.exists():
        raise UserError(f"no state store at {location}: has the monitor run yet? (--state FILE or --config FILE)")
    return open_store(location, read_only=True)


@dataclass
class RunOptions:
    shard: tuple[int, int] = (0, 1)
    auto_fix: bool = False
    dns: DnsOptions = field(default_factory=DnsOptions)
    metrics_file: Path | None = None
    backup_dir: Path | None = None


def _ms_version(settings: MonitorSettings, offline: bool, warnings: list[str]) -> str | None:
    from spfguard.vendors.msendpoints import EndpointsClient, EndpointsError

    client = EndpointsClient()
    version = None
    if settings.update_endpoints and not offline:
        try:
            version = client.update()[0].version
        except EndpointsError as err:
            warnings.append(str(err))
    if version is None:
        version = client.load(offline=offline).version
    warnings.extend(client.warnings)
    return version


def auto_fixer(config: Config, dns: DnsClient, store: Store, backup_dir: Path, warnings: list[str]):
    """``--auto-fix``: re-flatten a domain whose only drift is a vendor's, through the one apply flow (compare,
    backup, write, provenance in this store, wait, verify)."""
    from spfguard.app.fix import open_provider
    from spfguard.fix.apply import apply_plan
    from spfguard.fix.planner import FixOptions, plan_fix

    def record(domain: str, sources: dict[str, list[str]]) -> str:
        store.record_flattened(domain, sources)
        return store.location

    async def fix(domain: DomainSettings, moved: dict[str, list[str]]) -> str | None:
        """``moved``: flattened includes whose ranges changed (include -> the ranges flattened earlier): those are
        flattened again; else (an expected platform under a flattened record) everything is."""
        if domain.provider is None:
            return None
        try:
            provider = open_provider(domain.provider, config)
            options = FixOptions(domain.expect, "auto", reflatten=moved) if moved else \
                FixOptions(domain.expect, "always")
            plan = await plan_fix(domain.name, dns, options, lambda name: asyncio.to_thread(provider.read_txt, name))
            if plan.empty or not plan.proven:
                return None
            applied = await apply_plan(plan, provider, dns, backup_dir=backup_dir, expect=domain.expect,
                                       provenance=record)
        except SpfguardError as err:
            warnings.append(f"auto-fix of {domain.name} not done: {safe(redact(err))}")
            return None
        except Exception as err:  # noqa: BLE001 - a provider's own failure is this domain's, never the run's end
            warnings.append(f"auto-fix of {domain.name} not done: {type(err).__name__}: {safe(redact(err))}")
            if os.environ.get("SPFGUARD_DEBUG"):
                log.exception("auto-fix of %s", domain.name)
            return None
        names = ", ".join(applied.written)
        errors = f"; verification found {', '.join(f.code for f in applied.errors)}" if applied.errors else ""
        return (f"re-flattened through {domain.provider}: wrote {names} (backup {applied.backup}); verified at "
                f"{applied.verified_at}{errors}")

    return fix


def ingest_reports(dmarc: DmarcSettings, store: Store, now: float | None = None) -> list[str]:
    """Every ``[dmarc]`` mailbox read into the store (its messages then archived), and reports past the retention
    deleted; returns the warnings (a mailbox that cannot be read is said, and the run goes on)."""
    from spfguard.senders.mailbox import connect, ingest

    now = time.time() if now is None else now
    warnings = []
    for mailbox in dmarc.mailboxes:
        try:
            connection = connect(mailbox)
        except UserError as err:
            warnings.append(f"DMARC reports not read: {err}")
            continue
        done = ingest(connection, mailbox, functools.partial(_store_reports, store, mailbox.tenant, now))
        warnings += done.errors
        log.info("%s: %d message(s), %d aggregate report(s), %d new, %d moved to %s", done.mailbox, done.messages,
                 done.reports, done.stored, done.moved, mailbox.archive)
    store.prune_reports(iso_time(now - dmarc.retention))
    return warnings


def _store_reports(store: Store, tenant: str | None, now: float, reports: list) -> int:
    return store.add_reports(reports, tenant, now)


def iso_time(t: float) -> str:
    """A time as reports' periods are stored ("YYYY-MM-DD HH:MM:SS", UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def senders_summaries(dmarc: DmarcSettings, store: Store, dns: DnsClient, now: float | None = None):
    """``async (domain) -> summary | None``: who sent as the domain in the stored reports of the window."""
    from spfguard.senders.reports import Reading
    from spfguard.senders.run import analyse

    since = iso_time((time.time() if now is None else now) - dmarc.window)
    days = round(dmarc.window / 86400)

    async def summary(domain: str) -> dict | None:
        reports = store.reports(domain, since)
        if not reports:
            return None
        found = await analyse(domain, Reading(reports=reports), dns, max_ptr=200)
        return found.summary(days)

    return summary


@dataclass
class Run:
    result: RunResult
    warnings: list[str] = field(default_factory=list)


def run(config: Config, settings: MonitorSettings, options: RunOptions) -> Run:
    """One run of the shard: checks, auto-fixes, notifies, prunes; the metrics file written after it, and the
    heartbeat pinged at its very end — success or failure, a store that failed included (not when another run of
    the shard holds the lock: that one pings)."""
    from spfguard.fix.apply import default_backup_dir

    dns = open_dns(options.dns)
    warnings: list[str] = []
    label = shard_label(options.shard)
    result: RunResult | None = None
    busy = False
    try:
        store = open_store(settings.state)
        try:
            with store.lock(label):
                ms_version = _ms_version(settings, options.dns.offline, warnings)
                fixer = auto_fixer(config, dns, store, options.backup_dir or default_backup_dir(), warnings) \
                    if options.auto_fix else None
                senders = None
                if config.dmarc is not None:
                    if options.shard[0] == 0:  # one shard reads the mailboxes: the others find them empty
                        warnings += ingest_reports(config.dmarc, store)
                    senders = senders_summaries(config.dmarc, store, dns)
                result = asyncio.run(run_monitor(settings, dns, store, shard=options.shard, ms_version=ms_version,
                                                 auto_fix=fixer, senders=senders))
                if options.metrics_file is not None:
                    _metrics(options.metrics_file, label, result, dns, store)
        finally:
            store.close()
    except Busy:
        busy = True
        raise
    finally:
        if settings.alerts.heartbeat is not None and not busy:
            _heartbeat(settings, label, result, warnings)
    if result is None:  # not reached: a run that did not complete raised above
        raise IncompleteError(f"the monitor run of shard {label} did not complete")
    return Run(result, warnings + result.errors)


def _heartbeat(settings: MonitorSettings, label: str, result: RunResult | None, warnings: list[str]) -> None:
    ok = result is not None and result.exit_code in (0, 1)
    summary = (f"spfguard monitor shard {label}: {result.checked} domain(s) checked, {result.problems} problem(s), "
               f"{len(result.incomplete)} could not be checked, exit {result.exit_code}" if result is not None
               else f"spfguard monitor shard {label}: the run failed")
    heartbeat = settings.alerts.heartbeat
    if heartbeat is None:
        return
    try:
        heartbeat.ping(ok, summary, settings.alerts.timeout)
    except AlertError as err:
        warnings.append(f"heartbeat not delivered: {err}")
        log.warning("heartbeat not delivered: %s", err)


def _metrics(path: Path, label: str, result: RunResult, dns: DnsClient, store: Store) -> None:
    from spfguard.monitor.ops import write_metrics

    write_metrics(path, label, {
        "checked": result.checked, "failing": len(result.incomplete), "problems": dict(result.problem_codes),
        "duration": result.duration, "queries": getattr(dns, "sent", len(getattr(dns, "queries", ()))),
        "timeouts": getattr(dns, "timeouts", 0), "pending": sum(store.pending_count().values()),
        "finished": time.time(), "shards": shard_runs(store.shards(), label)})


def status(location: StateLocation) -> FleetStatus:
    store = open_existing(location)
    try:
        return fleet_status(store)
    finally:
        store.close()


def history(location: StateLocation, domain: str, limit: int = 50) -> DomainHistory:
    store = open_existing(location)
    try:
        return domain_history(store, domain, limit)
    finally:
        store.close()


def fleet_report(location: StateLocation, tenant: str | None = None, domain: str | None = None) -> Fleet:
    """The fleet page's data — of one tenant, or of one domain (its page: history, events and senders)."""
    store = open_existing(location)
    try:
        if tenant is not None:
            known = sorted({t for _, t, _ in store.latest() if t})
            if tenant not in known:
                raise UserError(f"--tenant {tenant}: no such tenant in {location} (tenants: "
                                f"{', '.join(known) or 'none'})")
        found = fleet(store, tenant)
    finally:
        store.close()
    if domain is not None:
        found.latest = [item for item in found.latest if item.domain == domain]
        if not found.latest:
            raise UserError(f"--domain {domain}: the monitor has no state for it in {location}")
    return found


@dataclass
class Digests:
    digests: list[Digest]
    errors: list[str] = field(default_factory=list)


def digests(settings: MonitorSettings, since: float, period: str, *, send: bool) -> Digests:
    store = open_existing(settings.state)
    try:
        built = build_digests(store, settings, time.time() - since, period)
    finally:
        store.close()
    return Digests(built, send_digests(built, settings.alerts) if send else [])
