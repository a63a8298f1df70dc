"""Apply a proven plan through a provider: backup, compare-and-set writes, wait, verify; and rollback.

The order is the plan's: chained children, then the apex, then chained records no longer needed. Verification
reads the changed names back from the zone's authoritative servers (or the provider's API when it names no
server) until the new values are visible, then re-runs the audit on what is really published.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from spfguard.audit import Report, audit
from spfguard.dns.base import DnsClient
from spfguard.dns.live import LiveDns, NameserverAddress
from spfguard.dns.overlay import OverlayDns
from spfguard.fix.plan import Change, Plan
from spfguard.provider.base import Provider, ProviderError, same_values

BACKUP_VERSION = 1


def default_backup_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "spfguard" / "backups"


def write_backup(plan: Plan, provider: Provider, directory: Path) -> Path:
    """Every TXT value at every name touched, before and after, with the provider and zone (no secrets)."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC)
    path = directory / f"{plan.domain}-{stamp:%Y%m%dT%H%M%S%fZ}.json"
    data = {
        "version": BACKUP_VERSION,
        "created": stamp.isoformat(timespec="seconds"),
        "domain": plan.domain,
        "provider": provider.describe(),
        "zone": provider.zone_of(plan.domain),
        "plan_checksum": plan.checksum,
        "records": [{"name": c.name, "before": list(c.before), "after": list(c.after),
                     "strings": [list(s) for s in provider.read_txt_strings(c.name)]} for c in plan.changes],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    return path


@dataclass
class Backup:
    domain: str
    provider: str
    zone: str
    changes: list[Change]  # the changes the fix made

    def rollback_changes(self) -> list[Change]:
        """Undo: the apex first (so nothing includes a chained record any more), then the other names."""
        undo = [Change(c.name, c.after, c.before, c.layout) for c in self.changes
                if not same_values(c.after, c.before)]
        return sorted(undo, key=lambda c: c.name != self.domain)


def read_backup(path: Path) -> Backup:
    try:
        data = json.loads(path.read_text())
        if data.get("version") != BACKUP_VERSION:
            raise ValueError(f"unsupported backup version {data.get('version')!r}")
        changes = [Change(r["name"], tuple(r["before"]), tuple(r["after"]),
                          tuple(("".join(s), tuple(s)) for s in r.get("strings", [])))
                   for r in data["records"]]
        return Backup(data["domain"], data["provider"]["provider"], data.get("zone", ""), changes)
    except OSError as err:
        raise ProviderError(f"cannot read backup {path}: {err.strerror}") from None
    except (ValueError, KeyError, TypeError) as err:
        raise ProviderError(f"{path} is not an spfguard backup: {err}") from None


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
        raise ProviderError(f"cannot resolve the zone's nameservers ({', '.join(servers)}) to verify the change")
    return out


async def wait_visible(changes: list[Change], provider: Provider, domain: str, timeout: float) -> tuple[
        str, dict[str, list[str]]]:
    """Poll the authoritative servers (or the provider API) until every changed name shows its new values."""
    from spfguard.fix.planner import read_txt_values

    servers = await nameserver_addresses(provider.authoritative(domain))
    where = ", ".join(servers) if servers else f"the {provider.name} provider (read back)"
    deadline = time.monotonic() + timeout
    while True:
        reader = LiveDns(servers, timeout=2, retries=1) if servers else None  # a new one: no cache between polls
        seen = {}
        for change in changes:
            if reader is None:
                seen[change.name] = await asyncio.to_thread(provider.read_txt, change.name)
            else:
                seen[change.name] = await read_txt_values(reader, change.name)
        if all(same_values(seen[c.name], c.after) for c in changes):
            return where, seen
        if time.monotonic() > deadline:
            late = [c.name for c in changes if not same_values(seen[c.name], c.after)]
            raise ProviderError(f"written, but {', '.join(late)} not visible at {where} after {timeout:g}s; "
                                "check again later with `spfguard check`")
        await asyncio.sleep(1)


async def verify(plan_domain: str, changes: list[Change], provider: Provider, dns: DnsClient,
                 timeout: float, expect=()) -> Verification:
    where, seen = await wait_visible(changes, provider, plan_domain, timeout)
    report = await audit(plan_domain, OverlayDns(dns, seen), expect=list(expect), dmarc=False)
    return Verification(where, report)
