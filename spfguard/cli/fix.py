"""``spfguard fix`` and ``spfguard rollback``: dry run by default; ``--apply`` writes through a provider."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spfguard.cli.check import ExpectOption
from spfguard.cli.common import (
    ConfigOption,
    Exit,
    NameserverOption,
    RetriesOption,
    TimeoutOption,
    ZoneOption,
    make_dns,
    split_values,
)
from spfguard.config import get_list, load_config, parse_check, section
from spfguard.domains import parse_domain
from spfguard.errors import PlanError, UserError

if TYPE_CHECKING:
    from spfguard.fix.plan import Plan
    from spfguard.provider.base import Provider


class Flatten(StrEnum):
    auto = "auto"
    never = "never"
    always = "always"


class Format(StrEnum):
    text = "text"
    json = "json"


ProviderOption = Annotated[str | None, typer.Option(
    "--provider", "-p", metavar="NAME", help="DNS provider plugin (`spfguard providers` lists them; settings: "
    "[providers.NAME] in the config).")]
ApplyOption = Annotated[bool, typer.Option("--apply", help="Write the change (default: show it only).")]
WaitOption = Annotated[float, typer.Option("--wait", metavar="SECONDS", min=0, max=3600,
                                           help="Seconds to wait for the change to become visible (0 to 3600).")]


def load_provider_from(name: str, config: dict) -> Provider:
    from spfguard.provider.registry import load_provider

    return load_provider(name, section(section(config, "providers"), name, f"[providers.{name}]"))


def fix(
    domain: Annotated[str, typer.Argument(metavar="DOMAIN", help="The domain whose SPF record set is planned.")],
    expect: ExpectOption = None,
    flatten: Annotated[Flatten, typer.Option("--flatten", metavar="WHEN",
                                             help="auto (only when over 10 lookups), never or always.")]
    = Flatten.auto,
    keep: Annotated[list[str] | None, typer.Option("--keep", metavar="INCLUDE", help="An include (or platform) never "
                                                   "to flatten (repeatable or comma-separated).")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", metavar="FORMAT", help="text or json.")] = Format.text,
    provider: ProviderOption = None,
    apply: ApplyOption = False,
    backup_dir: Annotated[Path | None, typer.Option("--backup-dir", metavar="DIR", help="Where backups go (default: "
                                                    "$XDG_STATE_HOME/spfguard/backups).")] = None,
    config: ConfigOption = None,
    wait: WaitOption = 120.0,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Plan a corrected record set, prove it equivalent, and (with --provider … --apply) write it safely."""
    from spfguard.fix.apply import default_backup_dir
    from spfguard.fix.planner import FixOptions, plan_fix
    from spfguard.report.plan import plan_text
    from spfguard.vendors.catalogue import load_catalogue

    domain = parse_domain(domain)
    settings = load_config(config)
    check = parse_check(settings)
    platforms = load_catalogue().platforms
    expected = get_list({"expect": split_values(expect)}, "expect", "--expect", platforms) if expect \
        else check.expect
    if apply and provider is None:
        raise UserError("--apply needs --provider NAME: the provider that hosts the zone")
    prov = load_provider_from(provider, settings) if provider is not None else None
    dns = make_dns(zone, nameserver or check.nameservers, timeout, retries)
    options = FixOptions(expected, flatten.value, split_values(keep))
    read_values = (lambda name: asyncio.to_thread(prov.read_txt, name)) if prov else None

    async def run():
        try:
            plan = await plan_fix(domain, dns, options, read_values)
        except PlanError as err:
            raise PlanError(f"cannot fix {domain}: {err}") from None
        typer.echo(json.dumps(plan.to_json(), indent=2) if fmt is Format.json else plan_text(plan, dry_run=not apply))
        if plan.empty:
            return Exit.OK
        if not plan.proven:
            raise PlanError("the proposal is NOT equivalent to the current record set: refusing it")
        if not apply:
            return Exit.OK
        return await _apply(plan, prov, dns, backup_dir or default_backup_dir(), wait, expected)

    raise typer.Exit(asyncio.run(run()))  # one event loop for planning, writing and verifying


async def _apply(plan: Plan, provider: Provider, dns, backup_dir: Path, wait: float, expected) -> int:
    from spfguard.fix.apply import verify, write_backup

    await asyncio.to_thread(provider.check, plan.changes)  # before the backup: nothing is written if anything moved
    path = write_backup(plan, provider, backup_dir)
    typer.echo(f"backup: {path}")
    await asyncio.to_thread(provider.apply, plan.changes)
    typer.echo(f"written: {len(plan.changes)} name(s) through {provider.name}")
    await asyncio.to_thread(provider.wait, plan.changes, wait)
    result = await verify(plan.domain, plan.changes, provider, dns, wait, expected)
    report = result.report
    typer.echo(f"verified at {result.where}: {report.lookups}/10 lookups, verdict {report.verdict}")
    errors = [f for f in report.findings if f.severity == "error"]
    for f in errors:
        typer.echo(f"  error {f.code}: {f.message}")
    return Exit.FINDINGS if errors else Exit.OK


def rollback(
    backup: Annotated[Path, typer.Argument(metavar="BACKUP.json", help="A backup written by `fix --apply`.")],
    provider: ProviderOption = None,
    apply: ApplyOption = False,
    config: ConfigOption = None,
    wait: WaitOption = 120.0,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
) -> None:
    """Restore exactly the values a backup holds, with the same compare-and-set. The dry run shows what would
    change against what is published now."""
    from spfguard.fix.apply import read_backup, verify
    from spfguard.provider.base import same_values

    saved = read_backup(backup)
    if provider is None:
        raise UserError(f"--provider is required (the backup was made with {saved.provider!r})")
    if provider != saved.provider:
        raise UserError(f"the backup was made with provider {saved.provider!r}, not {provider!r}")
    prov = load_provider_from(provider, load_config(config))
    changes = saved.rollback_changes()
    published = {c.name: prov.read_txt(c.name) for c in changes}
    if all(same_values(published[c.name], c.after) for c in changes):
        typer.echo(f"{saved.domain}: already restored — the published values are the backup's")
        raise typer.Exit(Exit.OK)
    moved = [c.name for c in changes if not same_values(published[c.name], c.before)]
    for change in changes:
        typer.echo(f"{change.name}:")
        for value in published[change.name]:
            if value not in change.after:
                typer.echo(f'  - TXT "{value}"')
        for value in change.after:
            typer.echo(f'  {"+" if value not in published[change.name] else " "} TXT "{value}"')
    if moved:
        message = (f"{', '.join(moved)} changed since the fix was applied (the published values are not the ones "
                   "the fix wrote): the compare-and-set refuses the rollback; fix it by hand or re-plan")
        if not apply:
            typer.echo(f"warning: {message}", err=True)
            raise typer.Exit(Exit.FINDINGS)
        raise PlanError(message)
    if not apply:
        typer.echo("dry run: nothing is written; add --apply to restore")
        raise typer.Exit(Exit.OK)

    async def run() -> None:
        await asyncio.to_thread(prov.apply, changes)
        await asyncio.to_thread(prov.wait, changes, wait)
        result = await verify(saved.domain, changes, prov, make_dns(zone, nameserver), wait)
        typer.echo(f"restored {len(changes)} name(s); verified at {result.where}")

    asyncio.run(run())

