"""Zone files in front of another resolver: names inside the loaded zones are answered from the files (what a
pull request would publish), every other name by ``beyond`` (live DNS, usually)."""

from __future__ import annotations

import dns.exception
import dns.name

from spfguard.dns.base import Answer, DnsClient, normalise_name
from spfguard.dns.zonefile import ZoneFileDns


class LayeredDns:
    shares_subtrees = True  # the same answers for the whole run: walked subtrees are shared (spfguard.tree)
    def __init__(self, files: ZoneFileDns, beyond: DnsClient):
        self.files, self.beyond = files, beyond

    def _in_files(self, name: str) -> bool:
        try:
            qname = dns.name.from_text(normalise_name(name) or ".")
        except dns.exception.DNSException:
            return True  # the files' resolver says why the name is not one
        return self.files._zone_for(qname) is not None

    async def query(self, name: str, rdtype: str) -> Answer:
        return await (self.files if self._in_files(name) else self.beyond).query(name, rdtype)

    def locate(self, name: str):
        return self.files.locate(name)

    def spf_names(self) -> list[str]:
        return self.files.spf_names()
