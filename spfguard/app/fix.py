"""``fix`` and ``rollback``: plan a corrected record set, apply a plan, restore a backup — every write through
:func:`spfguard.fix.apply.apply_plan`, so each one is compared, backed up, recorded and verified the same way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spfguard.config import Config
from spfguard.dns.base import DnsClient
from spfguard.errors import IncompleteError, PlanError, UserError
from spfguard.fix.apply import Applied, Backup, apply_plan, moved_since, read_backup, restore_plan
from spfguard.fix.plan import Plan, Proposal
from spfguard.fix.planner import FixOptions, plan_fix
from spfguard.provider.base import ConflictError, Provider


def open_provider(name: str, config: Config) -> Provider:
    """The provider ``name`` with its ``[providers.NAME]`` settings (relative paths from the config's folder)."""
    from spfguard.provider.registry import load_provider

    return load_provider(name, config.provider_table(name), config.base)


async def plan(domain: str, dns: DnsClient, options: FixOptions, provider: Provider | None = None, *,
               with_audit: bool = False) -> Proposal:
    """The proposal for ``domain``, proven; the names it touches are read through ``provider`` when given (the
    values the compare-and-set will expect). ``with_audit``: the audit of the current record set too (the HTML
    page shows both)."""
    from spfguard.audit import audit

    read = (lambda name: asyncio.to_thread(provider.read_txt, name)) if provider is not None else None
    try:
        found = await plan_fix(domain, dns, options, read)
    except (PlanError, IncompleteError) as err:  # the same class (exit code), the domain named
        raise type(err)(f"cannot fix {domain}: {err}") from None
    return Proposal(found, await audit(domain, dns, expect=list(options.expect)) if with_audit else None)


def provenance_recorder(config: Config):
    """Records the includes a plan flattened in the monitor's store — the one the config names (from the config's
    folder), else the default one when it exists — so the monitor keeps watching their sources."""
    def record(domain: str, sources: dict[str, list[str]]) -> str | None:
        from spfguard.monitor.store import open_store

        location = config.state
        if config.monitor is None and not location.exists():
            return None
        store = open_store(location)
        try:
            store.record_flattened(domain, sources)
        finally:
            store.close()
        return str(location)

    return record


async def apply(plan: Plan, provider: Provider, dns: DnsClient, config: Config, *, backup_dir: Path,
                wait: float = 120.0, progress: Callable[[str], None] | None = None) -> Applied:
    if not plan.proven:
        raise PlanError(f"the plan for {plan.domain} is not proven ({plan.verdict}): refusing it")
    return await apply_plan(plan, provider, dns, backup_dir=backup_dir, wait=wait, expect=plan.expect,
                            provenance=provenance_recorder(config), progress=progress)


def read_plan(path: Path, checksum: str | None = None) -> Plan:
    """A plan written by ``fix --plan-out``, checked field by field; with ``checksum`` (the value the review saw),
    its changes must be exactly the reviewed ones."""
    from spfguard.fix.review import check_checksum, check_scope
    from spfguard.textfile import read_text

    try:
        data = json.loads(read_text(path, "plan"))
    except ValueError as err:
        raise UserError(f"{path} is not an spfguard plan: not JSON ({err})") from None
    reviewed = Plan.from_json(data, str(path))
    check_checksum(reviewed, checksum, str(path))
    check_scope(reviewed)
    return reviewed


async def review(reviewed: Plan, provider: Provider | None, dns: DnsClient) -> Plan:
    """A reviewed plan, checked again before anything is written: the published values must still be its
    ``before`` (through the provider, when one is given), and its proof is run again on current DNS — the verdict
    shown and applied is that one, never the file's."""
    from spfguard.fix.review import reprove

    if provider is not None:
        try:
            await asyncio.to_thread(provider.check, reviewed.changes)
        except ConflictError as err:
            raise ConflictError(err.name, err.expected, err.actual,
                                advice=f"re-plan (`spfguard fix {reviewed.domain} --plan-out FILE`) and have the new "
                                       "plan reviewed") from None
    return await reprove(reviewed, dns)


def write_plan(plan: Plan, path: Path) -> None:
    """The plan as JSON (with its checksum), for review; ``fix --from-plan`` applies it later."""
    from spfguard.output import Output

    with Output(path, "--plan-out") as out:
        out.write(json.dumps(plan.to_json(), indent=2) + "\n")


@dataclass
class Rollback:
    backup: Backup
    plan: Plan  # before: what is published now; after: what the backup holds
    moved: list[str]  # names someone edited since the fix: the compare-and-set refuses them
    applied: Applied | None = None

    @property
    def done_already(self) -> bool:
        return self.plan.empty


async def rollback(path: Path, provider_name: str | None, config: Config, dns: DnsClient, *, apply: bool,
                   backup_dir: Path, wait: float = 120.0,
                   progress: Callable[[str], None] | None = None) -> Rollback:
    """Restore exactly the values a backup holds, with the same compare-and-set, backup and verification as a
    fix. Without ``apply`` only the difference with what is published now is worked out."""
    saved = read_backup(path)
    if provider_name is None:
        raise UserError(f"--provider is required (the backup was made with {saved.provider!r})")
    if provider_name != saved.provider:
        raise UserError(f"the backup was made with provider {saved.provider!r}, not {provider_name!r}")
    provider = open_provider(provider_name, config)
    names = [c.name for c in saved.rollback_changes()]
    published = await asyncio.to_thread(provider.read_txt_many, names)
    restore = restore_plan(saved, published)
    result = Rollback(saved, restore, moved_since(saved, restore))
    if restore.empty or not apply:
        return result
    if result.moved:
        raise PlanError(f"{', '.join(result.moved)} changed since the fix was applied (the published values are not "
                        "the ones the fix wrote): the compare-and-set refuses the rollback; fix it by hand or re-plan")
    result.applied = await apply_plan(restore, provider, dns, backup_dir=backup_dir, wait=wait, progress=progress)
    return result
