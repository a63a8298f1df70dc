"""``spfguard check``: audit domains and render the reports (the renderers live in :mod:`spfguard.report`)."""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from spfguard.audit import audit_stream
from spfguard.cli.common import (
    ConfigOption,
    Exit,
    NameserverOption,
    RetriesOption,
    TimeoutOption,
    ZoneOption,
    collect_domains,
    make_dns,
    parse_ips,
    split_values,
    stderr_is_terminal,
)
from spfguard.cli.output import Output
from spfguard.config import get_list, load_config, parse_check
from spfguard.dmarc import preload as preload_dmarc
from spfguard.errors import UserError
from spfguard.findings import severity_rank
from spfguard.report import Options, renderer
from spfguard.vendors.catalogue import load_catalogue

PROGRESS_MIN_DOMAINS = 5


class Format(StrEnum):
    table = "table"
    tree = "tree"
    json = "json"
    csv = "csv"
    summary = "summary"
    html = "html"


class FailOn(StrEnum):
    error = "error"
    warning = "warning"


ExpectOption = Annotated[list[str] | None, typer.Option(
    "--expect", "-e", metavar="PLATFORM[,PLATFORM…]",
    help="Platforms the domain sends from (repeatable or comma-separated; `spfguard ranges list`).")]


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
    fmt: Annotated[Format, typer.Option("--format", "-f", metavar="FORMAT",
                                        help="table, tree, json, csv, summary (one line per domain) or html.")]
    = Format.table,
    summary: Annotated[bool, typer.Option("--summary", help="One line per domain (same as --format summary).")]
    = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Write the report to FILE instead of standard output.")] = None,
    ip: Annotated[list[str] | None, typer.Option(
        "--ip", metavar="IP[,IP…]", help="Also evaluate check_host() for this sender address (repeatable or "
        "comma-separated).")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", metavar="SEVERITY",
                                            help="Exit 1 when a finding of this severity or worse is found: error or "
                                                 "warning.")] = FailOn.error,
    warn_lookups: Annotated[int | None, typer.Option("--warn-lookups", metavar="N", min=1, max=10,
                                                     help="Warn from this many lookups on (1 to 10; default 9).")]
    = None,
    expect: ExpectOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tree: list each record's ranges.")] = False,
    parked: Annotated[bool, typer.Option("--parked", help="The domains send and receive no mail: check the lockdown "
                                                          "(v=spf1 -all, DMARC p=reject, null MX). A domain list's "
                                                          "'parked' column sets it per domain.")] = False,
    config: ConfigOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Audit the SPF tree of each domain: lookups, void lookups, findings, DMARC and MX."""
    catalogue = load_catalogue()
    settings = parse_check(load_config(config))
    ips = parse_ips(ip)
    entries = collect_domains(domains, domains_from, platforms=catalogue.platforms)
    names = [e.name for e in entries]
    parked_names = {e.name for e in entries if parked or e.parked}
    expected = get_list({"expect": split_values(expect)}, "expect", "--expect", catalogue.platforms) if expect \
        else settings.expect
    fmt = Format.summary if summary else fmt
    if fmt is Format.html and output is None:
        raise UserError("--format html needs --output FILE (one self-contained page)")
    dns = make_dns(zone, nameserver or settings.nameservers, timeout, retries)
    preload_dmarc()
    out = Output(output)
    options = Options(tuple(expected), verbose=verbose, color=out.color, detail=len(names) == 1)
    render = renderer(fmt.value, options)
    outcome = _Outcome(fail_on.value)
    progress = stderr_is_terminal() and len(names) > PROGRESS_MIN_DOMAINS and (output or not sys.stdout.isatty())

    async def run() -> None:
        from spfguard.vendors.coverage import sender_sets

        senders = await sender_sets(expected, dns)  # once for all domains
        out.write(render.begin())
        async for index, report in audit_stream(names, dns, ips=ips, senders=senders,
                                                warn_lookups=warn_lookups or settings.warn_lookups,
                                                per_domain=lambda name: {"parked": name in parked_names}):
            outcome.add(report)
            out.write(render.add(index, report))
            if progress:
                sys.stderr.write(f"\rchecked {index + 1}/{len(names)} domains")
                sys.stderr.flush()
        out.write(render.end())
        if progress:
            sys.stderr.write("\n")

    with out:
        asyncio.run(run())
    raise typer.Exit(outcome.code)


class _Outcome:
    """The exit code, accumulated while reports stream past (they are not kept)."""

    def __init__(self, fail_on: str) -> None:
        self.threshold = severity_rank(fail_on)
        self.findings = False
        self.incomplete = False

    def add(self, report) -> None:
        self.findings |= any(severity_rank(f.severity) >= self.threshold and f.code != "temporary-failure"
                             for f in report.findings)
        self.incomplete |= report.incomplete

    @property
    def code(self) -> int:
        return Exit.FINDINGS if self.findings else Exit.INCOMPLETE if self.incomplete else Exit.OK
