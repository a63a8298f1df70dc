"""In-memory DNS, built from the OpenSPF test suites' ``zonedata`` mapping (or from plain Python data).

Conventions of the suites (see the conformance SOURCE.md):

* ``SPF`` entries are also published as ``TXT`` unless the name has an explicit ``TXT`` entry;
  ``TXT: NONE`` publishes nothing and suppresses that copy.
* The bare string ``TIMEOUT`` in a name's list makes a query of type T time out, unless an entry of type
  T came before it in the list (then the answer is what came before).
* A ``CNAME`` is followed for the queried type, as a resolver would.
* A name that is not listed does not exist (NXDOMAIN); a listed name without the type is NODATA.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from spfguard.dns.base import Answer, Status, answer, normalise_name

TIMEOUT = ("TIMEOUT", None)
MAX_CNAME_CHAIN = 8


def _strings(value: Any) -> tuple[bytes, ...]:
    if isinstance(value, str):
        value = [value]
    return tuple(s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in value)


def _normalise(rdtype: str, value: Any) -> Any:
    if rdtype in ("TXT", "SPF"):
        return _strings(value)
    if rdtype == "A":
        return ipaddress.IPv4Address(value)
    if rdtype == "AAAA":
        return ipaddress.IPv6Address(value)
    if rdtype == "MX":
        preference, exchange = value
        return int(preference), normalise_name(exchange)
    if rdtype in ("PTR", "CNAME"):
        return normalise_name(value)
    raise ValueError(f"unsupported record type {rdtype!r}")


class MemoryDns:
    """Answers from a ``{name: [(type, value) | TIMEOUT, ...]}`` table; see the module docstring."""

    def __init__(self, table: Mapping[str, Iterable[tuple[str, Any]]] | None = None):
        self._table: dict[str, list[tuple[str, Any]]] = {}
        for name, entries in (table or {}).items():
            for rdtype, value in entries:
                self.add(name, rdtype, value)
        self.queries: list[tuple[str, str]] = []

    def add(self, name: str, rdtype: str, value: Any = None) -> None:
        entries = self._table.setdefault(normalise_name(name), [])
        if rdtype == "TIMEOUT":
            entries.append(TIMEOUT)
        else:
            entries.append((rdtype, _normalise(rdtype, value)))

    @classmethod
    def from_zonedata(cls, zonedata: Mapping[str, list[Any]]) -> MemoryDns:
        table: dict[str, list[tuple[str, Any]]] = {}
        for name, entries in (zonedata or {}).items():
            rows: list[tuple[str, Any]] = []
            spf_copies: list[tuple[str, Any]] = []
            has_txt = False
            for entry in entries or []:
                if entry == "TIMEOUT":
                    rows.append(("TIMEOUT", None))
                    continue
                ((rdtype, value),) = entry.items()
                rdtype = rdtype.upper()
                if rdtype in ("TIMEOUT", "SERVFAIL") and value is True:  # `- SERVFAIL: true` (blitiri/go-spf)
                    rows.append(("TIMEOUT", None))  # both are a temporary failure to check_host() (§2.6.6)
                    continue
                if rdtype == "TXT":
                    has_txt = True
                if value == "NONE":
                    continue
                if rdtype == "SPF":
                    spf_copies.append(("TXT", value))
                rows.append((rdtype, value))
            if not has_txt:
                rows.extend(spf_copies)
            table[name] = rows
        return cls(table)

    async def query(self, name: str, rdtype: str) -> Answer:
        self.queries.append((normalise_name(name), rdtype))
        return self.lookup(name, rdtype)

    def lookup(self, name: str, rdtype: str) -> Answer:
        key = normalise_name(name)
        for _ in range(MAX_CNAME_CHAIN):
            entries = self._table.get(key)
            if entries is None:
                return Answer(name, rdtype, Status.NXDOMAIN)
            found: list[Any] = []
            target = None
            for entry in entries:
                if entry == TIMEOUT:
                    if found:
                        break
                    return Answer(name, rdtype, Status.TEMPFAIL, error="DNS timeout")
                etype, value = entry
                if etype == rdtype:
                    found.append(value)
                elif etype == "CNAME" and target is None:
                    target = value
            if found or target is None:
                return answer(name, rdtype, found)
            key = target
        return Answer(name, rdtype, Status.TEMPFAIL, error="CNAME chain too long (loop?)")
