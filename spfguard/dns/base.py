"""The DNS client interface the SPF core is written against.

Every client answers ``await client.query(name, rdtype)`` with an :class:`Answer` that tells apart the
four outcomes RFC 7208 cares about: data, NXDOMAIN, NODATA (both "void" in the sense of §4.6.4) and a
temporary failure (timeout, SERVFAIL, REFUSED: §2.6.6 temperror). Clients never raise for those.

Record data is normalised per type:

* ``TXT``  -> tuple of RRs, each a tuple of ``bytes`` character-strings (RFC 7208 §3.3: the caller joins
  them without a separator);
* ``A``/``AAAA`` -> tuple of ``ipaddress.IPv4Address`` / ``IPv6Address``;
* ``MX``   -> tuple of ``(preference, exchange)`` with the exchange as a lower-case name without the
  trailing dot;
* ``PTR``  -> tuple of names (no trailing dot).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


class Status(enum.Enum):
    ANSWER = "answer"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    TEMPFAIL = "tempfail"


@dataclass(frozen=True)
class Answer:
    name: str
    rdtype: str
    status: Status
    records: tuple[Any, ...] = ()
    error: str | None = field(default=None, compare=False)

    @property
    def void(self) -> bool:
        """RFC 7208 §4.6.4: an empty answer or a name error is a "void lookup"."""
        return self.status in (Status.NXDOMAIN, Status.NODATA)

    @property
    def failed(self) -> bool:
        return self.status is Status.TEMPFAIL


class DnsClient(Protocol):
    async def query(self, name: str, rdtype: str) -> Answer: ...


def normalise_name(name: str) -> str:
    """Lower-case, without the trailing dot: the key every client and cache uses."""
    return name.rstrip(".").lower()


def within(name: str, domain: str) -> bool:
    """``name`` is ``domain`` or a name below it (case and trailing dots ignored)."""
    name, domain = normalise_name(name), normalise_name(domain)
    return name == domain or name.endswith("." + domain)


def answer(name: str, rdtype: str, records: list | tuple) -> Answer:
    """An answer with data, or NODATA when the list is empty."""
    if records:
        return Answer(name, rdtype, Status.ANSWER, tuple(records))
    return Answer(name, rdtype, Status.NODATA)
