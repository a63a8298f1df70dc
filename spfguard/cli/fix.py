"""``spfguard fix`` and ``spfguard rollback``: dry run by default; ``--apply`` writes through a provider."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spfguard.cli.check import parse_expect
from spfguard.cli.common import Exit, NameserverOption, RetriesOption, TimeoutOption, UserError, ZoneOption, make_dns
from spfguard.config import get_list, load_config, section

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


ProviderOption = Annotated[str | None, typer.Option("--provider", "-p", help="DNS provider plugin: cloudflare, "
                                                    "route53, rfc2136, zonefile, … (settings: [providers.NAME]).")]
ApplyOption = Annotated[bool, typer.Option("--apply", help="Write the change (default: show it only).")]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="spfguard.toml ([check], [providers.NAME]).",
                                                   envvar="SPFGUARD_CONFIG")]
WaitOption = Annotated[float, typer.Option("--wait", help="Seconds to wait for the change to become visible.")]


def _provider(name: str, config: dict) -> Provider:
    from spfguard.provider.base import ProviderError
    from spfguard.provider.registry import load_provider

    try:
        return load_provider(name, section(section(config, "providers"), name, f"providers.{name}"))
    except ProviderError as err:
        raise UserError(str(err)) from None


def fix(
    domain: Annotated[str, typer.Argument(help="The domain whose SPF record set is planned.")],
    expect: Annotated[list[str] | None, typer.Option("--expect", "-e", help="Platforms the domain sends from.")] = None,
    flatten: Annotated[Flatten, typer.Option("--flatten", help="auto: only when over 10 lookups.")] = Flatten.auto,
    keep: Annotated[list[str] | None, typer.Option("--keep", help="An include (or platform) never to flatten "
                                                   "(repeatable).")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    provider: ProviderOption = None,
    apply: ApplyOption = False,
    backup_dir: Annotated[Path | None, typer.Option("--backup-dir", help="Where backups go (default: "
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
    from spfguard.fix.planner import FixOptions, PlanError, plan_fix
    from spfguard.provider.base import ProviderError
    from spfguard.vendors.catalogue import load_catalogue

    settings = load_config(config)
    platforms = set(load_catalogue().platforms)
    expected = parse_expect(expect) if expect else get_list(section(settings, "check"), "expect", "check", platforms)
    for name in expected:
        if name not in platforms:
            raise UserError(f"--expect: unknown platform {name!r} (known: {', '.join(sorted(platforms))})")
    if apply and provider is None:
        raise UserError("--apply needs --provider NAME: the provider that hosts the zone")
    dns = make_dns(zone, nameserver, timeout, retries)
    prov = _provider(provider, settings) if provider else None
    options = FixOptions(expected, flatten.value, keep or [])
    read_values = (lambda name: asyncio.to_thread(prov.read_txt, name)) if prov else None
    try:
        plan = asyncio.run(plan_fix(domain, dns, options, read_values))
    except PlanError as err:
        typer.echo(f"spfguard: cannot fix {domain}: {err}", err=True)
        raise typer.Exit(Exit.FINDINGS) from None
    except ProviderError as err:
        typer.echo(f"spfguard: error: {err}", err=True)
        raise typer.Exit(Exit.INCOMPLETE) from None
    if fmt is Format.json:
        typer.echo(json.dumps(plan.to_json(), indent=2))
    else:
        typer.echo(render_plan(plan, dry_run=not apply))
    if plan.empty:
        raise typer.Exit(Exit.OK)
    if not plan.proven:
        typer.echo("spfguard: the proposal is NOT equivalent to the current record set: refusing it", err=True)
        raise typer.Exit(Exit.FINDINGS)
    if not apply:
        raise typer.Exit(Exit.OK)
    _apply(plan, prov, dns, backup_dir or default_backup_dir(), wait, expected)


def _apply(plan: Plan, provider: Provider, dns, backup_dir: Path, wait: float, expected) -> None:
    from spfguard.fix.apply import verify, write_backup
    from spfguard.provider.base import ProviderError

    out = typer.echo
    try:
        provider.check(plan.changes)  # before the backup: nothing is written if anything moved
        path = write_backup(plan, provider, backup_dir)
        out(f"backup: {path}")
        provider.apply(plan.changes)
        out(f"written: {len(plan.changes)} name(s) through {provider.name}")
        provider.wait(plan.changes, wait)
        result = asyncio.run(verify(plan.domain, plan.changes, provider, dns, wait, expected))
    except ProviderError as err:
        typer.echo(f"spfguard: error: {err}", err=True)
        raise typer.Exit(Exit.FINDINGS) from None
    report = result.report
    out(f"verified at {result.where}: {report.lookups}/10 lookups, verdict {report.verdict}")
    errors = [f for f in report.findings if f.severity == "error"]
    if errors:
        for f in errors:
            out(f"  error {f.code}: {f.message}")
        raise typer.Exit(Exit.FINDINGS)


def render_plan(plan: Plan, *, dry_run: bool) -> str:
    if plan.empty:
        return f"{plan.domain}: nothing to change — the published record set is already what spfguard proposes " \
               f"({plan.lookups_before}/10 lookups)."
    lines = [f"{plan.domain}: plan{' (dry run: nothing is written)' if dry_run else ''}",
             f"  lookups {plan.lookups_before} → {plan.lookups_after} · void lookups after: {plan.voids_after[0]} "
             f"(IPv6 {plan.voids_after[1]})"]
    lines += [f"  - {action}" for action in plan.actions]
    lines += [f"  ! remaining: {problem}" for problem in plan.remaining]
    lines += ["", plan.diff(), ""]
    if plan.intended:
        lines.append("intended differences:")
        lines += [f"  {', '.join(d.cidrs[:4])}{' …' if len(d.cidrs) > 4 else ''}: {d.before} → {d.after} ({d.why})"
                  for d in plan.intended]
    proof = plan.proof
    lines.append(f"verdict: {plan.verdict} ({proof['samples']} addresses evaluated with check_host() before and "
                 f"after, {proof['samples_changed_as_intended']} changed as intended; address sets compared "
                 "exactly)")
    for mismatch in proof["unintended_sample_differences"][:5]:
        lines.append(f"  UNINTENDED: {mismatch['ip']}: {mismatch['before']} → {mismatch['after']}")
    lines.append(f"checksum: {plan.checksum}")
    if dry_run and plan.proven:
        lines.append("To write it: add --provider NAME --apply.")
    return "\n".join(lines)


def rollback(
    backup: Annotated[Path, typer.Argument(help="A backup written by `fix --apply`.")],
    provider: ProviderOption = None,
    apply: ApplyOption = False,
    config: ConfigOption = None,
    wait: WaitOption = 120.0,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
) -> None:
    """Restore exactly the values a backup holds, with the same compare-and-set."""
    from spfguard.fix.apply import read_backup, verify
    from spfguard.provider.base import ProviderError

    try:
        saved = read_backup(backup)
    except ProviderError as err:
        raise UserError(str(err)) from None
    if provider is None:
        raise UserError(f"--provider is required (the backup was made with {saved.provider!r})")
    if provider != saved.provider:
        raise UserError(f"the backup was made with provider {saved.provider!r}, not {provider!r}")
    prov = _provider(provider, load_config(config))
    changes = saved.rollback_changes()
    for change in changes:
        typer.echo(f"{change.name}: {len(change.before)} value(s) → {len(change.after)} value(s)")
        for value in change.after:
            typer.echo(f'  TXT "{value}"')
    if not apply:
        typer.echo("dry run: nothing is written; add --apply to restore")
        raise typer.Exit(Exit.OK)
    try:
        prov.apply(changes)
        prov.wait(changes, wait)
        result = asyncio.run(verify(saved.domain, changes, prov, make_dns(zone, nameserver), wait))
    except ProviderError as err:
        typer.echo(f"spfguard: error: {err}", err=True)
        raise typer.Exit(Exit.FINDINGS) from None
    typer.echo(f"restored {len(changes)} name(s); verified at {result.where}")
