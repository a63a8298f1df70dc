"""The DNS a command reads: RFC 1035 zone files (offline) or nameservers (default: the system's resolvers)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from spfguard.dns.base import DnsClient
from spfguard.errors import UserError
from spfguard.hostport import parse_host_port, parse_ip


@dataclass(frozen=True)
class DnsOptions:
    zones: tuple[Path, ...] = ()
    nameservers: tuple[str, ...] = ()
    timeout: float = 2.0
    retries: int = 2
    concurrency: int = 256
    max_qps: float | None = None
    options: tuple[str, ...] = field(default=(), compare=False)  # the command-line form, for suggested commands

    @property
    def offline(self) -> bool:
        return bool(self.zones)

    def arguments(self) -> list[str]:
        """The same DNS source as command-line arguments (for a command spfguard suggests)."""
        return [arg for z in self.zones for arg in ("--zone", str(z))] + \
            [arg for n in self.nameservers for arg in ("--nameserver", n)]


def open_dns(options: DnsOptions) -> DnsClient:
    if options.zones and options.nameservers:
        raise UserError("--zone and --nameserver exclude each other: answer from files or from a server")
    if options.zones:
        from spfguard.dns.zonefile import ZoneFileDns, ZoneLoadError

        try:
            return ZoneFileDns.load(*options.zones)
        except ZoneLoadError as err:
            raise ZoneLoadError(f"cannot load zone data: {err}") from None
    from spfguard.dns.live import LiveDns, NameserverAddress

    addresses = [NameserverAddress(*address) for text in options.nameservers for address in resolve_nameserver(text)]
    return LiveDns(addresses, timeout=options.timeout, retries=options.retries, concurrency=options.concurrency,
                   max_qps=options.max_qps)


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
    return list(dict.fromkeys((str(info[4][0]), port) for info in infos))
