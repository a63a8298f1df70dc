"""One read of every name a plan touches (issue #12): the proposal, its proof and the compare-and-set
(``Change.before``) all come from the same values, so an edit that lands after the read is caught when the plan
is written instead of being planned over.

Names are read through the provider when one is given (resolvers may still cache older values), else through
DNS. A name is read once; a name the plan needs later (a new chained record) is read when first needed and kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from spfguard.dns.base import DnsClient, Status, within
from spfguard.dns.overlay import OverlayDns
from spfguard.errors import IncompleteError
from spfguard.spf.txt import decode, join_strings
from spfguard.tree import walk_tree

ReadValues = Callable[[str], Awaitable[list[str]]]
MAX_CHAIN_DEPTH = 8


async def read_txt_values(dns: DnsClient, name: str) -> list[str]:
    answer = await dns.query(name, "TXT")
    if answer.status is Status.TEMPFAIL:
        raise IncompleteError(f"cannot read the TXT records of {name}: {answer.error or 'timeout'}")
    return [decode(join_strings(rr)) for rr in answer.records]


class ReadSet:
    def __init__(self, dns: DnsClient, read: ReadValues | None = None):
        self.dns = dns
        self._read = read or (lambda name: read_txt_values(dns, name))
        self.values: dict[str, list[str]] = {}

    async def get(self, name: str) -> list[str]:
        key = name.rstrip(".").lower()
        if key not in self.values:
            self.values[key] = list(await self._read(key))
        return self.values[key]

    async def view(self, domain: str) -> OverlayDns:
        """DNS in which the domain's own names (the apex and the records below it that its tree reaches) answer
        from this snapshot; read level by level, each name once."""
        for _ in range(MAX_CHAIN_DEPTH):
            tree = await walk_tree(domain, OverlayDns(self.dns, self.values))
            names = {n.name.lower() for n in tree.walk() if within(n.name, domain)} | {domain}
            missing = sorted(names - set(self.values))
            if not missing:
                break
            for name in missing:
                await self.get(name)
        return OverlayDns(self.dns, self.values)
