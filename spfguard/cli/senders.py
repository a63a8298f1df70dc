"""``spfguard senders``: who really sends as a domain, from DMARC aggregate reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spfguard.cli.common import (
    ConfigOption,
    NameserverOption,
    RetriesOption,
    StateOption,
    TimeoutOption,
    ZoneOption,
    dns_options,
    format_option,
    render,
)
from spfguard.config import load_config
from spfguard.domains import parse_domain
from spfguard.errors import UserError
from spfguard.output import Output
from spfguard.tables import parse_duration

SendersFormat = Annotated[str, format_option("senders")]


def senders(
    domain: Annotated[str, typer.Argument(metavar="DOMAIN", help="The domain the reports are about.")],
    reports: Annotated[list[Path] | None, typer.Option("--dmarc-reports", "-r", metavar="PATH",
                                                       help="DMARC aggregate reports: files (.xml, .xml.gz, .zip, "
                                                            ".eml) or folders of them; repeatable.")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DURATION", help="Instead of files: the reports "
                                              "the monitor stored from the [dmarc] mailbox over this period (30d, "
                                              "12w), from the store of --config/--state.")] = None,
    config: ConfigOption = None,
    state: StateOption = None,
    fmt: SendersFormat = "text",
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Write to FILE (needed for html).")] = None,
    suggest: Annotated[bool, typer.Option("--suggest", help="Print the --expect list of the platforms that send, "
                                                            "and the fix command that adds what is missing.")]
    = False,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Who sends as DOMAIN: each source of its DMARC aggregate reports attributed to a platform, what receivers
    saw, what check_host() says today — platforms authorised, sending but not authorised (with the include to
    add), included but silent, and unknown sources. Exit 1 when a platform sends without being authorised."""
    from spfguard.app.senders import find_senders, stored_reports

    domain = parse_domain(domain)
    if fmt == "html" and output is None:
        raise UserError("--format html needs --output FILE (one self-contained page)")
    if bool(reports) == (since is not None):
        raise UserError("give the reports: --dmarc-reports PATH (files), or --since DURATION (those the monitor "
                        "stored from the [dmarc] mailbox)")
    out = Output(output)
    stored = stored_reports(load_config(config), state, domain, parse_duration(since, "--since", 3600)) \
        if since is not None else None
    found = find_senders(domain, reports or [], dns_options(zone, nameserver, timeout, retries), suggest=suggest,
                         stored=stored)
    with out:
        out.write(render("senders", fmt, found))
    if output is not None:
        typer.echo(f"senders report written to {output}", err=True)
    raise typer.Exit(found.exit_code)
