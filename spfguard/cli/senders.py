"""``spfguard senders``: who really sends as a domain, from DMARC aggregate reports."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from spfguard.cli.common import Exit, NameserverOption, RetriesOption, TimeoutOption, ZoneOption, make_dns
from spfguard.cli.output import Output
from spfguard.domains import parse_domain
from spfguard.errors import UserError


class SendersFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"
    html = "html"


def senders(
    domain: Annotated[str, typer.Argument(metavar="DOMAIN", help="The domain the reports are about.")],
    reports: Annotated[list[Path], typer.Option("--dmarc-reports", "-r", metavar="PATH",
                                                help="DMARC aggregate reports: files (.xml, .xml.gz, .zip, .eml) "
                                                     "or folders of them; repeatable.")],
    fmt: Annotated[SendersFormat, typer.Option("--format", "-f", metavar="FORMAT",
                                               help="text, json, csv or html.")] = SendersFormat.text,
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
    from spfguard.report.senders import render_csv, render_html, render_json, render_text, suggestion
    from spfguard.senders.reports import read_reports
    from spfguard.senders.run import analyse

    domain = parse_domain(domain)
    if fmt is SendersFormat.html and output is None:
        raise UserError("--format html needs --output FILE (one self-contained page)")
    out = Output(output)
    reading = read_reports(reports, domain)
    if not reading.reports:
        why = "; ".join(f"{path}: {reason}" for path, reason in reading.skipped[:3])
        raise UserError(f"no DMARC aggregate report about {domain} in {', '.join(str(p) for p in reports)}"
                        + (f" ({why}{' …' if len(reading.skipped) > 3 else ''})" if why else ""))
    found = asyncio.run(analyse(domain, reading, make_dns(zone, nameserver, timeout, retries)))
    dns_args = [arg for z in zone or () for arg in ("--zone", str(z))] + \
        [arg for n in nameserver or () for arg in ("--nameserver", n)]
    hint = suggestion(found, dns_args) if suggest else None
    with out:
        if fmt is SendersFormat.json:
            out.write(render_json(found, hint))
        elif fmt is SendersFormat.csv:
            out.write(render_csv(found))
        elif fmt is SendersFormat.html:
            out.write(render_html(found, hint))
        else:
            out.write(render_text(found, hint))
    if output is not None:
        typer.echo(f"senders report written to {output}", err=True)
    raise typer.Exit(Exit.FINDINGS if found.with_status("unauthorised") else Exit.OK)
