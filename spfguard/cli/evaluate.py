"""``spfguard eval``: check_host() for one address."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from spfguard.cli.common import NameserverOption, RetriesOption, TimeoutOption, ZoneOption, dns_options, render
from spfguard.domains import parse_domain


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
    from spfguard.app.check import evaluate as check_host
    from spfguard.app.dns import open_dns
    from spfguard.hostport import parse_ip

    parse_ip(ip, "IP")
    domain = parse_domain(domain)
    dns = open_dns(dns_options(zone, nameserver, timeout, retries))
    found = asyncio.run(check_host(ip, domain, dns, sender=sender, helo=helo))
    typer.echo(render("eval", "json" if as_json else "text", found, verbose=trace), nl=False)
    raise typer.Exit(found.exit_code)
