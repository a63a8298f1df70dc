"""Apply a plan through a provider — the one flow every write takes (``fix --apply``, ``fix --from-plan``,
``monitor --auto-fix`` and ``rollback``): compare, backup, write, provenance, wait, verify (:func:`apply_plan`).

The order is the plan's: chained children, then the apex, then chained records no longer needed. Verification
reads the changed names back from the zone's authoritative servers (or the provider's API when it names no
server) until the new values are visible, then re-runs the audit on what is really published.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spfguard.audit import Report, audit
from spfguard.dns.base import DnsClient, within
from spfguard.dns.live import LiveDns, NameserverAddress
from spfguard.dns.overlay import OverlayDns
from spfguard.errors import IncompleteError, UserError
from spfguard.findings import Finding
from spfguard.fix.plan import Change, Plan, Verdict
from spfguard.provider.base import Provider, same_values
from spfguard.tables import xdg_state_home

BACKUP_VERSION = 1
log = logging.getLogger(__name__)

# records where a plan's flattened includes come from, for the monitor: (domain, include -> ranges) -> where
Provenance = Callable[[str, dict[str, list[str]]], str | None]


def default_backup_dir() -> Path:
    return xdg_state_home() / "backups"


def write_backup(plan: Plan, provider: Provider, directory: Path) -> Path:
    """Every TXT value at every name touched, before and after, with the provider and zone (no secrets)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the backup folder {directory}: {err.strerror} (nothing was written; "
                        "give --backup-dir DIR)") from None
    stamp = datetime.datetime.now(datetime.UTC)
    path = directory / f"{plan.domain}-{stamp:%Y%m%dT%H%M%S%fZ}.json"
    data = {
        "version": BACKUP_VERSION,
        "created": stamp.isoformat(timespec="seconds"),
        "domain": plan.domain,
        "provider": provider.describe(),
        "zone": provider.zone_of(plan.domain),
        "plan_checksum": plan.checksum,
        "flattened": [f.to_json() for f in plan.flattened],  # provenance: which include gave which ranges
        "records": [{"name": c.name, "before": list(c.before), "after": list(c.after),
                     "strings": [list(s) for s in provider.read_txt_strings(c.name)]} for c in plan.changes],
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
    except OSError as err:
        raise UserError(f"cannot write the backup {path}: {err.strerror} (nothing was written to DNS)") from None
    return path


@dataclass
class Backup:
    domain: str
    provider: str
    zone: str
    changes: list[Change]  # the changes the fix made

    @classmethod
    def from_json(cls, data, where: str) -> Backup:
        _expect(isinstance(data, dict), where, "expected a JSON object")
        _expect(data.get("version") == BACKUP_VERSION, where, f"unsupported version {data.get('version')!r} "
                f"(this spfguard reads version {BACKUP_VERSION})")
        domain = data.get("domain")
        _expect(isinstance(domain, str) and bool(domain), where, "no domain")
        provider = data.get("provider")
        _expect(isinstance(provider, dict) and isinstance(provider.get("provider"), str), where,
                "provider must be an object with a provider name")
        records = data.get("records")
        _expect(isinstance(records, list) and bool(records), where, "records must be a non-empty list")
        changes = []
        for i, record in enumerate(records):
            at = f"records[{i}]"
            _expect(isinstance(record, dict), where, f"{at} must be an object")
            name = record.get("name")
            _expect(isinstance(name, str) and within(name, domain), where,
                    f"{at}.name must be {domain} or a name below it, not {name!r}")
            before = _strings(record.get("before"), where, f"{at}.before")
            after = _strings(record.get("after"), where, f"{at}.after")
            strings = record.get("strings", [])
            _expect(isinstance(strings, list) and all(isinstance(s, list) and all(isinstance(x, str) for x in s)
                                                      for s in strings),
                    where, f"{at}.strings must be lists of strings")
            layout = tuple(("".join(s), tuple(s)) for s in strings)
            _expect(sorted(v for v, _ in layout) == sorted(before) or not strings, where,
                    f"{at}.strings do not match {at}.before")
            changes.append(Change(name, before, after, layout))
        zone = data.get("zone", "")
        _expect(isinstance(zone, str), where, "zone must be a string")
        return cls(domain, provider["provider"], zone, changes)

    def rollback_changes(self) -> list[Change]:
        """Undo: the apex first (so nothing includes a chained record any more), then the other names."""
        undo = [Change(c.name, c.after, c.before, c.layout) for c in self.changes
                if not same_values(c.after, c.before)]
        return sorted(undo, key=lambda c: c.name != self.domain)


def read_backup(path: Path) -> Backup:
    """A backup, checked field by field before anything is written from it: a file of the wrong shape is a
    one-line error naming what is wrong."""
    from spfguard.textfile import read_text

    text = read_text(path, "backup")
    try:
        data = json.loads(text)
    except ValueError as err:
        raise UserError(f"{path} is not an spfguard backup: not JSON ({err})") from None
    return Backup.from_json(data, str(path))


def _expect(condition: bool, where: str, what: str) -> None:
    if not condition:
        raise UserError(f"{where} is not an spfguard backup: {what}")


def _strings(value, where: str, field_name: str) -> tuple[str, ...]:
    _expect(isinstance(value, list) and all(isinstance(v, str) for v in value), where,
            f"{field_name} must be a list of strings")
    return tuple(value)


@dataclass
class Verification:
    where: str
    report: Report


async def nameserver_addresses(servers: list[str]) -> list[str]:
    """Nameserver names (as providers report them) -> addresses, resolved through the system's resolver."""
    import ipaddress

    out, resolver = [], None
    for server in servers:
        address = NameserverAddress.parse(server)
        try:
            ipaddress.ip_address(address.host)
            out.append(str(address))
            continue
        except ValueError:
            resolver = resolver or LiveDns()
        for rdtype in ("A", "AAAA"):
            answer = await resolver.query(address.host, rdtype)
            out += [str(NameserverAddress(str(ip), address.port)) for ip in answer.records]
    if servers and not out:
        raise IncompleteError(f"cannot resolve the zone's nameservers ({', '.join(servers)}) to verify the change; "
                              "it was written: check it later with `spfguard check`")
    return out


async def wait_visible(changes: list[Change], provider: Provider, domain: str, timeout: float) -> tuple[
        str, dict[str, list[str]]]:
    """Poll the authoritative servers (or the provider API) until every changed name shows its new values."""
    from spfguard.fix.readset import read_txt_values

    servers = await nameserver_addresses(provider.authoritative(domain))
    where = ", ".join(servers) if servers else f"the {provider.name} provider (read back)"
    deadline = time.monotonic() + timeout
    while True:
        if servers:
            reader = LiveDns(servers, timeout=2, retries=1)  # a new one each poll: no cache between polls
            seen = {c.name: await read_txt_values(reader, c.name) for c in changes}
        else:
            seen = await asyncio.to_thread(provider.read_txt_many, [c.name for c in changes])
        if all(same_values(seen[c.name], c.after) for c in changes):
            return where, seen
        if time.monotonic() > deadline:
            late = [c.name for c in changes if not same_values(seen[c.name], c.after)]
            raise IncompleteError(f"written, but {', '.join(late)} not visible at {where} after {timeout:g}s; "
                                  "check again later with `spfguard check`")
        await asyncio.sleep(1)


async def verify(plan_domain: str, changes: list[Change], provider: Provider, dns: DnsClient,
                 timeout: float, expect=()) -> Verification:
    where, seen = await wait_visible(changes, provider, plan_domain, timeout)
    report = await audit(plan_domain, OverlayDns(dns, seen), expect=list(expect), dmarc=False)
    return Verification(where, report)


@dataclass
class Applied:
    """What :func:`apply_plan` did: the backup, the names written, where the change was recorded and verified, and
    the audit of what is published now."""

    domain: str
    provider: str
    backup: Path
    written: list[str]
    verified_at: str
    report: Report
    pending: str | None = None  # what still has to happen before the write is live (a file to commit)
    provenance: str | None = None  # where the flattened includes were recorded for the monitor
    steps: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.report.findings if f.severity == "error"]


async def apply_plan(plan: Plan, provider: Provider, dns: DnsClient, *, backup_dir: Path, wait: float = 120.0,
                     expect: Sequence[str] = (), provenance: Provenance | None = None,
                     progress: Callable[[str], None] | None = None) -> Applied:
    """Compare every name with the plan's ``before`` (nothing is written if anything moved), back up every value
    at every name touched, write (one atomic write per zone), record the provenance of flattened includes, wait
    until the provider and the zone's servers show the change, and audit what is published. ``progress`` hears
    each step as it happens (the backup path before anything is written)."""
    steps: list[str] = []

    def step(text: str) -> None:
        steps.append(text)
        if progress is not None:
            progress(text)

    await asyncio.to_thread(provider.check, plan.changes)  # before the backup: nothing is written if anything moved
    backup = write_backup(plan, provider, backup_dir)
    step(f"backup: {backup}")
    log.info("applying %d change(s) to %s through %s (backup %s)", len(plan.changes), plan.domain, provider.name,
             backup)
    await asyncio.to_thread(provider.apply, plan.changes)
    step(f"written: {len(plan.changes)} name(s) through {provider.name}")
    pending = provider.pending_publication()
    if pending:
        step(f"not live yet: {pending}")
    where = None
    if plan.flattened and provenance is not None:
        where = provenance(plan.domain, {f.include: f.ranges for f in plan.flattened})
        if where:
            step(f"flattened includes recorded for the monitor in {where}")
    await asyncio.to_thread(provider.wait, plan.changes, wait)
    result = await verify(plan.domain, plan.changes, provider, dns, wait, expect)
    return Applied(plan.domain, provider.name, backup, [c.name for c in plan.changes], result.where,
                   result.report, pending, where, steps)


def restore_plan(saved: Backup, published: dict[str, list[str]]) -> Plan:
    """The plan that puts back what a backup holds, for the names not already as it holds them (after an apply
    that was killed part-way, only the names it reached are restored). Its ``before`` is what is published now."""
    changes = [Change(c.name, tuple(published[c.name]), c.after, c.layout) for c in saved.rollback_changes()
               if not same_values(published[c.name], c.after)]
    return Plan(saved.domain, changes, 0, 0, (0, 0), verdict=Verdict.RESTORE)


def moved_since(saved: Backup, plan: Plan) -> list[str]:
    """Names whose published values are not the ones the fix wrote: a rollback would overwrite someone's edit."""
    wrote = {c.name: c.before for c in saved.rollback_changes()}
    return [c.name for c in plan.changes if not same_values(c.before, wrote[c.name])]
