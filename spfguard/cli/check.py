"""``spfguard check``: audit domains and render the reports (the renderers live in :mod:`spfguard.report`)."""

from __future__ import annotations

import asyncio
import sys
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
    before_a_long_run,
    collect_domains,
    dns_options,
    format_option,
    parse_ips,
    split_values,
)
from spfguard.config import load_config
from spfguard.errors import UserError
from spfguard.output import Output
from spfguard.report import Options, renderer
from spfguard.tables import get_list

PROGRESS_MIN_DOMAINS = 5
CheckFormat = Annotated[str, format_option("check", "table, tree, json, csv, summary (one line per domain), "
                                                     "html, sarif (SARIF 2.1.0, for code scanning) or junit.")]
RecordOption = Annotated[str | None, typer.Option(
    "--record", metavar="'v=spf1 …'", help="Audit this draft as if DOMAIN published it (its includes resolved as "
    "usual): what would it do?")]
RecordFileOption = Annotated[Path | None, typer.Option(
    "--record-file", metavar="FILE", help="The draft record in a file (plain, or quoted character-strings as in a "
    "zone file).")]


def check(
    domains: Annotated[list[str] | None, typer.Argument(
        metavar="DOMAIN...", show_default=False,
        help="Domains to check; '-' reads them from standard input (one per line, or a CSV with a 'domain' "
             "column).")] = None,
    domains_from: Annotated[Path | None, typer.Option(
        "--domains-from", metavar="FILE", help="Read domains from FILE (one per line, '#' comments, or a CSV with "
        "a 'domain' column).")] = None,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    fmt: CheckFormat = "table",
    summary: Annotated[bool, typer.Option("--summary", help="One line per domain (same as --format summary).")]
    = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Write the report to FILE instead of standard output.")] = None,
    ip: Annotated[list[str] | None, typer.Option(
        "--ip", metavar="IP[,IP…]", help="Also evaluate check_host() for this sender address (repeatable or "
        "comma-separated).")] = None,
    fail_on: Annotated[Literal["error", "warning"], typer.Option(
        "--fail-on", metavar="SEVERITY", help="Exit 1 when a finding of this severity or worse is found: error or "
        "warning.")] = "error",
    warn_lookups: Annotated[int | None, typer.Option("--warn-lookups", metavar="N", min=1, max=10,
                                                     help="Warn from this many lookups on (1 to 10; default 9).")]
    = None,
    expect: ExpectOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tree: list each record's ranges.")] = False,
    parked: Annotated[bool, typer.Option("--parked", help="The domains send and receive no mail: check the lockdown "
                                                          "(v=spf1 -all, DMARC p=reject, null MX). A domain list's "
                                                          "'parked' column sets it per domain.")] = False,
    record: RecordOption = None,
    record_file: RecordFileOption = None,
    config: ConfigOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Audit the SPF tree of each domain: lookups, void lookups, findings, DMARC and MX."""
    from spfguard.app.check import CheckRequest, Outcome, check_domains
    from spfguard.app.dns import open_dns, read_draft, with_draft

    settings = load_config(config)
    catalogue = settings.catalogue
    ips = parse_ips(ip)
    entries = collect_domains(domains, domains_from, platforms=catalogue.platforms)
    names = [e.name for e in entries]
    expected = get_list({"expect": split_values(expect)}, "expect", "--expect", catalogue.platforms) if expect \
        else settings.check.expect
    fmt = "summary" if summary else fmt
    if fmt == "html" and output is None:
        raise UserError("--format html needs --output FILE (one self-contained page)")
    dns = open_dns(dns_options(zone, nameserver or settings.check.nameservers, timeout, retries))
    locate = getattr(dns, "locate", None)  # zone files: findings annotated at their file and line (SARIF)
    draft = read_draft(record, record_file)
    if draft is not None:
        if len(names) != 1:
            raise UserError("--record/--record-file: give exactly one DOMAIN (where the draft would be published)")
        dns = with_draft(dns, names[0], draft[0])
        draft_file = draft[1]
        located = locate

        def locate(name: str):
            if name == names[0]:
                return (draft_file, 1) if draft_file is not None else None
            return located(name) if located is not None else None
    out = Output(output)
    render = renderer("check", fmt, Options(tuple(expected), verbose=verbose, color=out.color,
                                            detail=len(names) == 1, extra={"locate": locate, "fail_on": fail_on}))
    request = CheckRequest(names, ips, expected, warn_lookups or settings.check.warn_lookups,
                           {e.name for e in entries if parked or e.parked})
    outcome = Outcome(fail_on)
    progress = stderr_is_terminal() and len(names) > PROGRESS_MIN_DOMAINS and (output or not sys.stdout.isatty())

    async def run() -> None:
        out.write(render.begin())
        async for index, report in check_domains(request, dns):
            outcome.add(report)
            out.write(render.add(index, report))
            if progress:
                sys.stderr.write(f"\rchecked {index + 1}/{len(names)} domains")
                sys.stderr.flush()
        out.write(render.end())
        if progress:
            sys.stderr.write("\n")

    before_a_long_run()
    with out:
        asyncio.run(run())
    raise typer.Exit(outcome.code)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def check_zones(
    files: Annotated[list[Path], typer.Argument(metavar="ZONEFILE...", help="Zone files (RFC 1035), e.g. the ones "
                                                "a commit changes.")],
    fmt: CheckFormat = "summary",
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Write the report to FILE instead of standard output.")] = None,
    fail_on: Annotated[Literal["error", "warning"], typer.Option(
        "--fail-on", metavar="SEVERITY", help="Exit 1 on a finding of this severity or worse.")] = "error",
    nameserver: NameserverOption = None,
    offline: Annotated[bool, typer.Option("--offline", help="Names outside the files are not looked up (they are "
                                                            "temporary failures, exit 3).")] = False,
    expect: ExpectOption = None,
    config: ConfigOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Audit every SPF record in these zone files, as they would be published: names inside the files answered
    from them, every other name (an include at a vendor) live. For pre-commit and CI (--format sarif)."""
    from spfguard.app.check import CheckRequest, Outcome, check_domains
    from spfguard.app.dns import DnsOptions, open_dns
    from spfguard.dns.layered import LayeredDns
    from spfguard.dns.zonefile import ZoneFileDns

    settings = load_config(config)
    expected = get_list({"expect": split_values(expect)}, "expect", "--expect", settings.catalogue.platforms) \
        if expect else settings.check.expect
    files_dns = open_dns(DnsOptions(zones=tuple(files)))
    assert isinstance(files_dns, ZoneFileDns)
    beyond = files_dns if offline else open_dns(DnsOptions(nameservers=tuple(nameserver or
                                                                              settings.check.nameservers),
                                                           timeout=timeout, retries=retries))
    dns = LayeredDns(files_dns, beyond)
    names = files_dns.spf_names()
    if not names:
        raise UserError(f"no SPF record (TXT v=spf1) in {', '.join(str(f) for f in files)}")
    if fmt == "html" and output is None:
        raise UserError("--format html needs --output FILE (one self-contained page)")
    out = Output(output)
    render = renderer("check", fmt, Options(tuple(expected), color=out.color, detail=len(names) == 1,
                                            extra={"locate": dns.locate, "fail_on": fail_on}))
    outcome = Outcome(fail_on)

    async def run() -> None:
        out.write(render.begin())
        async for index, report in check_domains(CheckRequest(names, [], expected, settings.check.warn_lookups,
                                                              set()), dns):
            outcome.add(report)
            out.write(render.add(index, report))
        out.write(render.end())

    before_a_long_run()
    with out:
        asyncio.run(run())
    raise typer.Exit(outcome.code)
