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


def read_draft(record: str | None, record_file: Path | None) -> tuple[str, Path | None] | None:
    """``--record 'v=spf1 …'`` or ``--record-file FILE``: a draft SPF record (a file may hold it as zone-file
    character-strings, quoted, on several lines); None when neither is given."""
    from spfguard.spf.parser import is_spf_record
    from spfguard.textfile import read_text

    if record is not None and record_file is not None:
        raise UserError("--record and --record-file exclude each other")
    if record is None and record_file is None:
        return None
    text = record if record is not None else read_text(Path(str(record_file)), "record file")
    text = text.strip()
    if '"' in text:  # "v=spf1 ip4:…" "include:…" (RFC 1035 §5.1 character-strings, as in a zone file)
        import re

        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
        if not parts:
            raise UserError(f"{'--record' if record is not None else record_file}: unbalanced quotes")
        text = "".join(parts)
    text = " ".join(text.split())
    if not is_spf_record(text):
        raise UserError(f"{'--record' if record is not None else record_file}: not an SPF record (it must start "
                        "with v=spf1)")
    return text, record_file


def with_draft(dns: DnsClient, domain: str, record: str) -> DnsClient:
    """DNS in which ``domain`` publishes ``record`` as its only SPF record (everything else as it is)."""
    from spfguard.dns.overlay import OverlayDns

    return OverlayDns(dns, {domain: [record]})
