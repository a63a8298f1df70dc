"""A DNS client that answers TXT for some names from a table and everything else from another client.

Used to evaluate a proposed record set against the same DNS data as the current one (``fix``), and to verify
through a provider's own view of a zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from spfguard.dns.base import Answer, DnsClient, Status, normalise_name


class OverlayDns:
    def __init__(self, base: DnsClient, txt: Mapping[str, Sequence[str] | None]):
        """``txt``: name -> TXT values (each one string, split into 255-byte strings as DNS would);
        None or [] means the name has no TXT records (NXDOMAIN when the base does not know it either)."""
        self.base = base
        self.txt = {normalise_name(name): values for name, values in txt.items()}

    async def query(self, name: str, rdtype: str) -> Answer:
        key = normalise_name(name)
        if rdtype != "TXT" or key not in self.txt:
            return await self.base.query(name, rdtype)
        values = self.txt[key]
        if values:
            rrs = tuple(tuple(_strings(v)) for v in values)
            return Answer(name, "TXT", Status.ANSWER, rrs)
        below = await self.base.query(name, "A")  # does the name exist at all?
        return Answer(name, "TXT", Status.NXDOMAIN if below.status is Status.NXDOMAIN else Status.NODATA)


def _strings(value: str) -> list[bytes]:
    data = value.encode("utf-8")
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
