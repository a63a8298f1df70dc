"""``spfguard eval``: check_host() for one address."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import Annotated

import typer

from spfguard.cli.common import (
    Exit,
    NameserverOption,
    RetriesOption,
    TimeoutOption,
    UserError,
    ZoneOption,
    make_dns,
)
from spfguard.report_json import evaluation_to_json
from spfguard.spf.evaluator import check_host_async


def evaluate(
    ip: Annotated[str, typer.Argument(help="The connecting client's address (IPv4 or IPv6).")],
    domain: Annotated[str, typer.Argument(help="The domain whose SPF policy is checked.")],
    sender: Annotated[str | None, typer.Option("--sender", help="MAIL FROM address (default "
                                               "postmaster@DOMAIN).")] = None,
    helo: Annotated[str | None, typer.Option("--helo", help="HELO/EHLO name.")] = None,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Evaluate check_host() (RFC 7208 §4) for IP and DOMAIN: the result, the deciding term and the path."""
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise UserError(f"{ip!r} is not an IPv4 or IPv6 address") from None
    dns = make_dns(zone, nameserver, timeout, retries)
    sender = sender or f"postmaster@{domain}"
    result = asyncio.run(check_host_async(ip, domain, sender, helo=helo or domain, dns=dns))
    if as_json:
        typer.echo(json.dumps(evaluation_to_json(ip, result), indent=2))
    else:
        typer.echo(f"{result.result}: {ip} for {domain}")
        if result.path:
            typer.echo("  path: " + " → ".join(str(step) for step in result.path))
        typer.echo(f"  reason: {result.reason}")
        if result.explanation:
            typer.echo(f"  explanation: {result.explanation}")
        typer.echo(f"  lookups: {result.lookups}, void lookups: {result.void_lookups}")
    if result.result == "temperror":
        raise typer.Exit(Exit.INCOMPLETE)
    raise typer.Exit(Exit.OK if result.result == "pass" else Exit.FINDINGS)
