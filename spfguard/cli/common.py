"""Options and helpers shared by the commands: DNS source, errors, exit codes."""

from __future__ import annotations

import sys
from enum import IntEnum
from pathlib import Path
from typing import Annotated

import typer

from spfguard.dns.base import DnsClient
from spfguard.errors import UserError

__all__ = ["Exit", "UserError", "make_dns"]


class Exit(IntEnum):
    OK = 0
    FINDINGS = 1  # findings at or above --fail-on; a non-pass result for eval
    USAGE = 2  # bad arguments or input (also click's own usage errors)
    INCOMPLETE = 3  # the check could not be completed (DNS temporary failures)


ZoneOption = Annotated[
    list[Path] | None,
    typer.Option("--zone", help="Answer from RFC 1035 zone files (a file, or every *.zone in a directory; "
                 "repeatable) instead of live DNS: offline."),
]
NameserverOption = Annotated[
    list[str] | None,
    typer.Option("--nameserver", "-n", help="Nameserver to ask, HOST or HOST:PORT (repeatable). Default: the "
                 "system's resolvers."),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds to wait for one DNS answer.", min=0.05)]
RetriesOption = Annotated[int, typer.Option("--retries", help="Further tries after a DNS timeout.", min=0)]


def make_dns(zone: list[Path] | None, nameservers: list[str] | None, timeout: float = 2.0, retries: int = 2,
             concurrency: int = 256) -> DnsClient:
    if zone and nameservers:
        raise UserError("--zone and --nameserver exclude each other: answer from files or from a server")
    if zone:
        from spfguard.dns.zonefile import ZoneFileDns, ZoneLoadError

        try:
            return ZoneFileDns.load(*zone)
        except ZoneLoadError as err:
            raise UserError(f"cannot load zone data: {err}") from None
    from spfguard.dns.live import LiveDns

    try:
        return LiveDns(nameservers or (), timeout=timeout, retries=retries, concurrency=concurrency)
    except ValueError as err:
        raise UserError(str(err)) from None


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
