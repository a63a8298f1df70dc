"""``spfguard fix`` and ``spfguard rollback``: dry run by default; ``--apply`` writes through a provider."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Literal

import typer

from spfguard.cli.common import (
    ConfigOption,
    ExpectOption,
    NameserverOption,
    RetriesOption,
    TimeoutOption,
    ZoneOption,
    dns_options,
    format_option,
    render,
    split_values,
)
from spfguard.config import load_config
from spfguard.domains import parse_domain
from spfguard.errors import ExitCode, PlanError, UserError
from spfguard.output import Output
from spfguard.tables import get_list

ProviderOption = Annotated[str | None, typer.Option(
    "--provider", "-p", metavar="NAME", help="DNS provider plugin (`spfguard providers` lists them; settings: "
    "[providers.NAME] in the config).")]
ApplyOption = Annotated[bool, typer.Option("--apply", help="Write the change (default: show it only).")]
WaitOption = Annotated[float, typer.Option("--wait", metavar="SECONDS", min=0, max=3600,
                                           help="Seconds to wait for the change to become visible (0 to 3600).")]
BackupDirOption = Annotated[Path | None, typer.Option("--backup-dir", metavar="DIR", help="Where backups go (default: "
                                                      "$XDG_STATE_HOME/spfguard/backups).")]
PlanFormat = Annotated[str, format_option("plan", "text, json or html (with --output: the record, its tree and the "
                                                  "proposed change as one page).")]


def fix(
    domain: Annotated[str | None, typer.Argument(metavar="DOMAIN", help="The domain whose SPF record set is planned "
                                                 "(not with --from-plan).")] = None,
    expect: ExpectOption = None,
    flatten: Annotated[Literal["auto", "never", "always"], typer.Option(
        "--flatten", metavar="WHEN", help="auto (only when over 10 lookups), never or always.")] = "auto",
    keep: Annotated[list[str] | None, typer.Option("--keep", metavar="INCLUDE", help="An include (or platform) never "
                                                   "to flatten (repeatable or comma-separated).")] = None,
    pin: Annotated[list[str] | None, typer.Option("--pin", metavar="TERM", help="Replace this a: or mx: term of the "
                                                  "record by its current addresses (removes its void lookups; it "
                                                  "then stops following the host). Repeatable.")] = None,
    all_: Annotated[Literal["softfail", "fail"] | None, typer.Option(
        "--all", metavar="RESULT", help="What unlisted senders get: softfail or fail (replaces +all, ?all, or adds "
        "one).")] = None,
    fmt: PlanFormat = "text",
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the plan (text, json "
                                                "or html) to FILE.")] = None,
    plan_out: Annotated[Path | None, typer.Option("--plan-out", metavar="FILE", help="Write the plan (JSON, with "
                                                  "its checksum) for review; apply it later with --from-plan.")]
    = None,
    from_plan: Annotated[Path | None, typer.Option("--from-plan", metavar="FILE", help="Apply exactly this reviewed "
                                                   "plan: proven again on current DNS, only the domain's SPF records, "
                                                   "the published values still its 'before'.")] = None,
    checksum: Annotated[str | None, typer.Option("--checksum", metavar="sha256:HEX", help="With --from-plan: the "
                                                 "checksum the review saw; a plan whose changes differ is refused.")]
    = None,
    provider: ProviderOption = None,
    apply: ApplyOption = False,
    backup_dir: BackupDirOption = None,
    record: Annotated[str | None, typer.Option("--record", metavar="'v=spf1 …'", help="Plan from this draft as if "
                                               "DOMAIN published it (a proposal only: nothing can be applied).")]
    = None,
    record_file: Annotated[Path | None, typer.Option("--record-file", metavar="FILE", help="The draft in a file.")]
    = None,
    config: ConfigOption = None,
    wait: WaitOption = 120.0,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Plan a corrected record set, prove it equivalent, and (with --provider … --apply) write it safely."""
    from spfguard.app import fix as use
    from spfguard.app.dns import open_dns, read_draft, with_draft
    from spfguard.fix.apply import default_backup_dir
    from spfguard.fix.planner import FixOptions

    settings = load_config(config)
    draft = read_draft(record, record_file)
    if draft is not None and (apply or plan_out is not None or provider is not None or from_plan is not None):
        raise UserError("--record/--record-file plan from a draft that is not published: a proposal to read, never "
                        "applied (publish the draft, or the proposal, then run fix DOMAIN)")
    if apply and provider is None:
        raise UserError("--apply needs --provider NAME: the provider that hosts the zone")
    prov = use.open_provider(provider, settings) if provider is not None else None
    dns = open_dns(dns_options(zone, nameserver or settings.check.nameservers, timeout, retries))
    backups = backup_dir or default_backup_dir()
    if checksum is not None and from_plan is None:
        raise UserError("--checksum goes with --from-plan FILE")
    if from_plan is not None:
        if domain is not None:
            raise UserError("--from-plan takes its domain from the plan: give no DOMAIN")
        reviewed = use.read_plan(from_plan, checksum)
        if checksum is None:
            typer.echo(f"note: the plan's own checksum was checked ({reviewed.checksum}); give --checksum with the "
                       "value the review saw to refuse any edited file", err=True)

        async def run_reviewed() -> int:
            proven = await use.review(reviewed, prov, dns)
            typer.echo(render("plan", "text", use.Proposal(proven), dry_run=not apply), nl=False)
            if not proven.proven:
                raise PlanError(f"{from_plan}: proven again on current DNS, the plan is {proven.verdict}: refusing it")
            if not apply or prov is None:
                return ExitCode.OK
            applied = await use.apply(proven, prov, dns, settings, backup_dir=backups, wait=wait,
                                      progress=typer.echo)
            typer.echo(render("applied", "text", applied), nl=False)
            return ExitCode.FINDINGS if applied.errors else ExitCode.OK

        raise typer.Exit(asyncio.run(run_reviewed()))
    if domain is None:
        raise UserError("give DOMAIN (or --from-plan FILE)")
    domain = parse_domain(domain)
    if draft is not None:
        dns = with_draft(dns, domain, draft[0])
    expected = get_list({"expect": split_values(expect)}, "expect", "--expect", settings.catalogue.platforms) \
        if expect else settings.check.expect
    options = FixOptions(expected, flatten, split_values(keep), pin=split_values(pin), all=all_)
    if fmt == "html" and output is None:
        raise UserError("--format html needs --output FILE (one self-contained page)")
    destination = Output(output) if output is not None else None

    async def run() -> int:
        proposal = await use.plan(domain, dns, options, prov, with_audit=fmt == "html")
        text = render("plan", fmt, proposal, dry_run=not apply, expect=tuple(expected))
        if destination is None:
            typer.echo(text, nl=False)
        else:
            with destination as out:
                out.write(text)
        plan = proposal.plan
        if plan_out is not None:
            use.write_plan(plan, plan_out)
            typer.echo(f"plan written to {plan_out} (checksum {plan.checksum})", err=True)
        if plan.empty:  # nothing proposed; errors spfguard does not fix on its own still fail the command
            return ExitCode.FINDINGS if any(p.startswith("error") for p in plan.problems) else ExitCode.OK
        if not plan.proven:
            raise PlanError("the proposal is NOT equivalent to the current record set: refusing it")
        if not apply or prov is None:
            return ExitCode.OK
        applied = await use.apply(plan, prov, dns, settings, backup_dir=backups, wait=wait, progress=typer.echo)
        typer.echo(render("applied", "text", applied), nl=False)
        return ExitCode.FINDINGS if applied.errors else ExitCode.OK

    raise typer.Exit(asyncio.run(run()))  # one event loop for planning, writing and verifying


def rollback(
    backup: Annotated[Path, typer.Argument(metavar="BACKUP.json", help="A backup written by `fix --apply`.")],
    provider: ProviderOption = None,
    apply: ApplyOption = False,
    backup_dir: BackupDirOption = None,
    config: ConfigOption = None,
    wait: WaitOption = 120.0,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
) -> None:
    """Restore exactly the values a backup holds, with the same compare-and-set, backup and verification as a fix.
    The dry run shows what would change against what is published now."""
    from spfguard.app import fix as use
    from spfguard.app.dns import open_dns
    from spfguard.fix.apply import default_backup_dir

    settings = load_config(config)
    result = asyncio.run(use.rollback(backup, provider, settings, open_dns(dns_options(zone, nameserver)),
                                      apply=apply, backup_dir=backup_dir or default_backup_dir(), wait=wait,
                                      progress=typer.echo))
    typer.echo(render("rollback", "text", result), nl=False)
    if result.moved and not result.done_already:
        typer.echo(f"warning: {', '.join(result.moved)} changed since the fix was applied (the published values are "
                   "not the ones the fix wrote): the compare-and-set refuses the rollback; fix it by hand or re-plan",
                   err=True)
        raise typer.Exit(ExitCode.FINDINGS)
