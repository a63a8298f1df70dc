"""dnspython resolvers for checkdmarc's parser, which asks DNS synchronously (the report destinations of rua=/ruf=,
RFC 7489 §7.1): one answers through spfguard's async client from a worker thread, so that ``--zone`` runs stay
offline and live runs share the run's nameservers and cache; the other refuses, for a first try without a thread.
"""

from __future__ import annotations

import asyncio
from typing import cast

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from spfguard.dns.base import DnsClient, Status


class NeedsDns(BaseException):  # noqa: N818 - a signal, not an error: checkdmarc's ``except Exception`` lets it by
    """The parser asked DNS: parse again with a :class:`BridgeResolver` in a worker thread."""


class NoDnsResolver(dns.resolver.Resolver):
    def __init__(self) -> None:
        super().__init__(configure=False)
        self.nameservers = ["127.0.0.1"]  # never used: resolve() below refuses

    def resolve(self, *args, **kwargs):  # noqa: ARG002 - dnspython's signature
        raise NeedsDns

    query = resolve


class BridgeResolver(dns.resolver.Resolver):
    """A synchronous dnspython resolver (for checkdmarc, in a worker thread) backed by our async client."""

    def __init__(self, client: DnsClient, loop: asyncio.AbstractEventLoop):
        super().__init__(configure=False)
        self.nameservers = ["127.0.0.1"]  # never used: resolve() below answers
        self._client, self._loop = client, loop

    def resolve(self, qname, rdtype="A", *args, **kwargs):  # noqa: ARG002 - dnspython's signature
        name = str(qname).rstrip(".")
        rdtype = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))
        result = asyncio.run_coroutine_threadsafe(self._client.query(name, rdtype), self._loop).result()
        qname = dns.name.from_text(name)
        if result.status is Status.NXDOMAIN:
            raise dns.resolver.NXDOMAIN(qnames=[qname])
        if result.status is Status.NODATA:
            raise dns.resolver.NoAnswer()
        if result.status is Status.TEMPFAIL:
            raise dns.resolver.NoNameservers()
        response = dns.message.make_response(dns.message.make_query(qname, rdtype))
        rrset = response.find_rrset(response.answer, qname, dns.rdataclass.IN, dns.rdatatype.from_text(rdtype),
                                    create=True)
        for text in _rdata_texts(rdtype, result.records):
            rrset.add(dns.rdata.from_text(dns.rdataclass.IN, rdtype, text), 300)
        return dns.resolver.Answer(qname, dns.rdatatype.from_text(rdtype), dns.rdataclass.IN,
                                   cast(dns.message.QueryMessage, response))

    query = resolve


def _rdata_texts(rdtype: str, records) -> list[str]:
    if rdtype == "TXT":
        return [" ".join('"' + s.decode("latin-1").replace('"', '\\"') + '"' for s in rr) for rr in records]
    if rdtype == "MX":
        return [f"{pref} {host}." for pref, host in records]
    if rdtype in ("PTR", "CNAME"):
        return [f"{name}." for name in records]
    return [str(r) for r in records]
