"""Turn dnspython rdatasets into the normalised record data of :mod:`spfguard.dns.base`."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any


def _name(n: Any) -> str:
    return n.to_text(omit_final_dot=True).lower()


def convert(rdtype: str, rdatas: Iterable[Any]) -> list[Any]:
    if rdtype == "TXT":
        return [tuple(r.strings) for r in rdatas]
    if rdtype in ("A", "AAAA"):
        return [ipaddress.ip_address(r.address) for r in rdatas]
    if rdtype == "MX":
        return [(r.preference, _name(r.exchange)) for r in rdatas]
    if rdtype in ("PTR", "CNAME"):
        return [_name(r.target) for r in rdatas]
    raise ValueError(f"unsupported record type {rdtype!r}")
