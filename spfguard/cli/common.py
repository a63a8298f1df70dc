"""Options and helpers shared by the commands: the DNS source, domain lists, addresses, exit codes."""

from __future__ import annotations

import socket
import sys
from enum import IntEnum
from pathlib import Path
from typing import Annotated

import typer

from spfguard.dns.base import DnsClient
from spfguard.domains import DomainEntry, load_domain_list, parse_domain
from spfguard.errors import UserError
from spfguard.hostport import format_host_port, parse_host_port, parse_ip

__all__ = ["Exit", "UserError", "make_dns"]


class Exit(IntEnum):
    OK = 0
    FINDINGS = 1  # findings at or above --fail-on; a non-pass result for eval; a provider or plan error
    USAGE = 2  # bad arguments or input (also click's own usage errors)
    INCOMPLETE = 3  # the check could not be completed (DNS temporary failures)
    BUG = 70  # EX_SOFTWARE: an internal error — please report it


ZoneOption = Annotated[
    list[Path] | None,
    typer.Option("--zone", metavar="PATH", help="Answer from RFC 1035 zone files (a file, or every *.zone in a "
                 "directory; repeatable) instead of live DNS: offline."),
]
NameserverOption = Annotated[
    list[str] | None,
    typer.Option("--nameserver", "-n", metavar="HOST[:PORT]", help="Nameserver to ask: an address, [IPv6]:PORT or "
                 "a host name (resolved once at start); repeatable. Default: the system's resolvers."),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", metavar="SECONDS", min=0.05, max=60,
                                              help="Seconds to wait for one DNS answer (0.05 to 60).")]
RetriesOption = Annotated[int, typer.Option("--retries", metavar="N", min=0, max=10,
                                            help="Further tries after a DNS timeout (0 to 10).")]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", metavar="FILE", envvar="SPFGUARD_CONFIG",
                                                   help="spfguard.toml (see examples/spfguard.toml).")]


def make_dns(zone: list[Path] | None, nameservers: list[str] | None, timeout: float = 2.0, retries: int = 2,
             concurrency: int = 256, max_qps: float | None = None) -> DnsClient:
    if zone and nameservers:
        raise UserError("--zone and --nameserver exclude each other: answer from files or from a server")
    if zone:
        from spfguard.dns.zonefile import ZoneFileDns, ZoneLoadError

        try:
            return ZoneFileDns.load(*zone)
        except ZoneLoadError as err:
            raise ZoneLoadError(f"cannot load zone data: {err}") from None
    from spfguard.dns.live import LiveDns, NameserverAddress

    addresses = [NameserverAddress(*address) for text in nameservers or ()
                 for address in resolve_nameserver(text)]
    return LiveDns(addresses, timeout=timeout, retries=retries, concurrency=concurrency, max_qps=max_qps)


def resolve_nameserver(text: str) -> list[tuple[str, int]]:
    """HOST[:PORT] -> addresses; a host name is resolved once, here, through the system's resolver."""
    host, port = parse_host_port(text, 53, "--nameserver")
    try:
        parse_ip(host, "--nameserver")
        return [(host, port)]
    except UserError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as err:
        raise UserError(f"--nameserver {text}: the name does not resolve ({getattr(err, 'strerror', err)}); "
                        "give an address") from None
    return list(dict.fromkeys((info[4][0], port) for info in infos))


def split_values(values: list[str] | None) -> list[str]:
    """A repeatable option that also takes comma lists: ``--ip A --ip B`` or ``--ip A,B``."""
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def parse_ips(values: list[str] | None, option: str = "--ip") -> list[str]:
    return [str(parse_ip(v, option)) for v in split_values(values)]


def collect_domains(args: list[str] | None, domains_from: Path | None, *, platforms=()) -> list[DomainEntry]:
    """Domains from the command line (``-`` reads standard input) and from ``--domains-from FILE``. An argument
    that is an address or a platform name is an option value that lost its option: say so."""
    entries: list[DomainEntry] = []
    for arg in args or ():
        if arg == "-":
            entries += load_domain_list("-")
            continue
        try:
            parse_ip(arg, "")
        except UserError:
            pass
        else:
            raise UserError(f"{arg} is an address, not a domain: give each address with its own --ip, or a comma "
                            "list (--ip A,B)")
        if arg in platforms:
            raise UserError(f"{arg} is a platform, not a domain: --expect takes a comma list (--expect a,b) or "
                            "one --expect per platform")
        entries.append(DomainEntry(parse_domain(arg)))
    if domains_from is not None:
        entries += load_domain_list(domains_from)
    if not entries:
        raise UserError("no domains: give DOMAIN..., '-' to read them from standard input, or --domains-from FILE")
    return entries


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def nameserver_text(host: str, port: int) -> str:
    return format_host_port(host, port)
