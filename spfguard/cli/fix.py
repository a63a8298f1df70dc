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
from spfguard.cli.output import Output
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
    html = "html"


ProviderOption = Annotated[str | None, typer.Option(
    "--provider", "-p", metavar="NAME", help="DNS provider plugin (`spfguard providers` lists them; settings: "
    "[providers.NAME] in the config).")]
ApplyOption = Annotated[bool, typer.Option("--apply", help="Write the change (default: show it only).")]
WaitOption = Annotated[float, typer.Option("--wait", metavar="SECONDS", min=0, max=3600,
                                           help="Seconds to wait for the change to become visible (0 to 3600).")]


def load_provider_from(name: str, config: dict) -> Provider:
    from spfguard.provider.registry import load_provider

    return load_provider(name, section(section(config, "providers"), name, f"[providers.{name}]"))


class AllQualifier(StrEnum):
    softfail = "softfail"
    fail = "fail"


def fix(
    domain: Annotated[str | None, typer.Argument(metavar="DOMAIN", help="The domain whose SPF record set is planned "
                                                 "(not with --from-plan).")] = None,
    expect: ExpectOption = None,
    flatten: Annotated[Flatten, typer.Option("--flatten", metavar="WHEN",
                                             help="auto (only when over 10 lookups), never or always.")]
    = Flatten.auto,
    keep: Annotated[list[str] | None, typer.Option("--keep", metavar="INCLUDE", help="An include (or platform) never "
                                                   "to flatten (repeatable or comma-separated).")] = None,
    pin: Annotated[list[str] | None, typer.Option("--pin", metavar="TERM", help="Replace this a: or mx: term of the "
                                                  "record by its current addresses (removes its void lookups; it "
                                                  "then stops following the host). Repeatable.")] = None,
    all_: Annotated[AllQualifier | None, typer.Option("--all", metavar="RESULT", help="What unlisted senders get: "
                                                      "softfail or fail (replaces +all, ?all, or adds one).")]
    = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", metavar="FORMAT", help="text, json or html (with "
                                        "--output: the record, its tree and the proposed change as one page).")]
    = Format.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the plan (text, json "
                                                "or html) to FILE.")] = None,
    plan_out: Annotated[Path | None, typer.Option("--plan-out", metavar="FILE", help="Write the plan (JSON, with "
                                                  "its checksum) for review; apply it later with --from-plan.")]
    = None,
    from_plan: Annotated[Path | None, typer.Option("--from-plan", metavar="FILE", help="Apply exactly this reviewed "
                                                   "plan (its checksum, and the published values must still be its "
                                                   "'before').")] = None,
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

    settings = load_config(config)
    check = parse_check(settings)
    if apply and provider is None:
        raise UserError("--apply needs --provider NAME: the provider that hosts the zone")
    prov = load_provider_from(provider, settings) if provider is not None else None
    dns = make_dns(zone, nameserver or check.nameservers, timeout, retries)
    if from_plan is not None:
        if domain is not None:
            raise UserError("--from-plan takes its domain from the plan: give no DOMAIN")
        plan = _read_plan(from_plan)
        typer.echo(plan_text(plan, dry_run=not apply))
        if apply:
            raise typer.Exit(asyncio.run(_apply(plan, prov, dns, backup_dir or default_backup_dir(), wait,
                                                plan.expect, settings)))
        raise typer.Exit(Exit.OK)
    if domain is None:
        raise UserError("give DOMAIN (or --from-plan FILE)")
    domain = parse_domain(domain)
    platforms = load_catalogue().platforms
    expected = get_list({"expect": split_values(expect)}, "expect", "--expect", platforms) if expect \
        else check.expect
    options = FixOptions(expected, flatten.value, split_values(keep), pin=split_values(pin),
                         all=all_.value if all_ else None)
    read_values = (lambda name: asyncio.to_thread(prov.read_txt, name)) if prov else None

    if fmt is Format.html and output is None:
        raise UserError("--format html needs --output FILE (one self-contained page)")
    destination = Output(output) if output is not None else None

    async def run():
        try:
            plan = await plan_fix(domain, dns, options, read_values)
        except PlanError as err:
            raise PlanError(f"cannot fix {domain}: {err}") from None
        if fmt is Format.html:
            from spfguard.audit import audit
            from spfguard.report.html import plan_page

            text = plan_page(await audit(domain, dns, expect=expected), plan, expected)
        else:
            text = json.dumps(plan.to_json(), indent=2) if fmt is Format.json else plan_text(plan, dry_run=not apply)
        if destination is None:
            typer.echo(text)
        else:
            with destination as out:
                out.write(text + "\n")
        if plan_out is not None:
            _write_plan(plan, plan_out)
        if plan.empty:  # nothing proposed; errors spfguard does not fix on its own still fail the command
            return Exit.FINDINGS if any(p.startswith("error") for p in plan.problems) else Exit.OK
        if not plan.proven:
            raise PlanError("the proposal is NOT equivalent to the current record set: refusing it")
        if not apply:
            return Exit.OK
        return await _apply(plan, prov, dns, backup_dir or default_backup_dir(), wait, expected, settings)

    raise typer.Exit(asyncio.run(run()))  # one event loop for planning, writing and verifying


def _write_plan(plan: Plan, path: Path) -> None:
    from spfguard.cli.output import Output

    with Output(path) as out:
        out.write(json.dumps(plan.to_json(), indent=2) + "\n")
    typer.echo(f"plan written to {path} (checksum {plan.checksum})", err=True)


def _read_plan(path: Path) -> Plan:
    from spfguard.fix.plan import Plan
    from spfguard.textfile import read_text

    try:
        data = json.loads(read_text(path, "plan"))
    except ValueError as err:
        raise UserError(f"{path} is not an spfguard plan: not JSON ({err})") from None
    plan = Plan.from_json(data, str(path))
    if not plan.proven:
        raise PlanError(f"{path}: the plan is not proven ({plan.verdict}): refusing it")
    return plan


async def _apply(plan: Plan, provider: Provider | None, dns, backup_dir: Path, wait: float, expected,
                 settings: dict) -> int:
    from spfguard.fix.apply import record_provenance, verify, write_backup

    if provider is None:
        raise UserError("--apply needs --provider NAME: the provider that hosts the zone")
    await asyncio.to_thread(provider.check, plan.changes)  # before the backup: nothing is written if anything moved
    path = write_backup(plan, provider, backup_dir)
    typer.echo(f"backup: {path}")
    await asyncio.to_thread(provider.apply, plan.changes)
    typer.echo(f"written: {len(plan.changes)} name(s) through {provider.name}")
    if provider.pending_publication():
        typer.echo(f"not live yet: {provider.pending_publication()}")
    if plan.flattened:
        where = record_provenance(plan, settings)
        if where:
            typer.echo(f"flattened includes recorded for the monitor in {where}")
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
    published = prov.read_txt_many([c.name for c in saved.rollback_changes()])
    # names already as the backup holds them are left alone: after an apply that was killed part-way, only the
    # names it reached are restored
    changes = [c for c in saved.rollback_changes() if not same_values(published[c.name], c.after)]
    if not changes:
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
        if prov.pending_publication():
            typer.echo(f"not live yet: {prov.pending_publication()}")

    asyncio.run(run())

