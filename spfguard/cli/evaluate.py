"""``spfguard eval``: check_host() for one address."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from spfguard.cli.common import Exit, NameserverOption, RetriesOption, TimeoutOption, ZoneOption, make_dns
from spfguard.domains import parse_domain
from spfguard.hostport import parse_ip
from spfguard.report.escape import safe
from spfguard.report.jsonout import evaluation_to_json
from spfguard.spf.evaluator import check_host_async


def evaluate(
    ip: Annotated[str, typer.Argument(metavar="IP", help="The connecting client's address (IPv4 or IPv6).")],
    domain: Annotated[str, typer.Argument(metavar="DOMAIN", help="The domain whose SPF policy is checked.")],
    sender: Annotated[str | None, typer.Option("--sender", metavar="ADDRESS",
                                               help="MAIL FROM address (default postmaster@DOMAIN).")] = None,
    helo: Annotated[str | None, typer.Option("--helo", metavar="NAME", help="HELO/EHLO name.")] = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show every term met, with macros expanded.")] = False,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Evaluate check_host() (RFC 7208 §4) for IP and DOMAIN: the result, the deciding term and the path."""
    address = str(parse_ip(ip, "IP"))
    domain = parse_domain(domain)
    dns = make_dns(zone, nameserver, timeout, retries)
    sender = sender or f"postmaster@{domain}"
    # the address as given: %{i} keeps the letter case of an IPv6 address (the RFC 7208 suite's v-macro-ip6)
    result = asyncio.run(check_host_async(ip.strip(), domain, sender, helo=helo or domain, dns=dns))
    if as_json:
        typer.echo(json.dumps(evaluation_to_json(address, result), indent=2))
    else:
        typer.echo(f"{result.result}: {address} for {domain}")
        if result.path:
            typer.echo("  path: " + " → ".join(safe(step) for step in result.path))
        typer.echo(f"  reason: {safe(result.reason)}")
        if result.explanation:
            typer.echo(f"  explanation: {safe(result.explanation)}")
        typer.echo(f"  lookups: {result.lookups}, void lookups: {result.void_lookups}")
        if trace:
            typer.echo("  trace:")
            for step in result.trace:
                for line in step.lines():
                    typer.echo("    " + safe(line))
    if result.result == "temperror":
        raise typer.Exit(Exit.INCOMPLETE)
    raise typer.Exit(Exit.OK if result.result == "pass" else Exit.FINDINGS)
