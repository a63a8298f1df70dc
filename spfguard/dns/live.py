"""Live DNS through dnspython's asyncio resolver.

One :class:`LiveDns` per run: its cache (keyed by name and type, in-flight queries shared) and its
concurrency limit belong to the instance, never to the module. Truncated UDP answers are retried over
TCP by dnspython's resolver.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from spfguard.dns.base import Answer, Status, answer, normalise_name
from spfguard.dns.convert import convert


@dataclass(frozen=True)
class NameserverAddress:
    host: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> NameserverAddress:
        """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or a bare IPv6 address."""
        text = text.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") == 1:
            host, _, port = text.partition(":")
        else:
            host, port = text, ""
        if not host:
            raise ValueError(f"nameserver {text!r}: no address")
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"nameserver {text!r}: port must be a number from 1 to 65535")
        return cls(host, int(port) if port else 53)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class LiveDns:
    def __init__(
        self,
        nameservers: Sequence[str | NameserverAddress] = (),
        *,
        timeout: float = 2.0,
        retries: int = 2,
        concurrency: int = 64,
        cache_size: int = 100_000,
    ):
        self.nameservers = [n if isinstance(n, NameserverAddress) else NameserverAddress.parse(n)
                            for n in nameservers]
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], asyncio.Future[Answer]] = OrderedDict()
        self.sent = 0  # queries actually sent (cache misses), for tests and benchmarks

    def _make_resolver(self) -> dns.asyncresolver.Resolver:
        if self.nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(n.host, n.port) for n in self.nameservers]
        else:
            resolver = dns.asyncresolver.Resolver()  # the system's resolv.conf
        resolver.timeout = self.timeout
        resolver.lifetime = self.timeout * (self.retries + 1)
        resolver.cache = None  # our own per-run cache below
        return resolver

    async def query(self, name: str, rdtype: str) -> Answer:
        key = (normalise_name(name), rdtype)
        future = self._cache.get(key)
        if future is None:
            future = asyncio.ensure_future(self._resolve(key[0], rdtype))
            self._cache[key] = future
            if len(self._cache) > self.cache_size:  # least recently added first; awaiters keep their future
                self._cache.popitem(last=False)
        return await asyncio.shield(future)

    async def _resolve(self, name: str, rdtype: str) -> Answer:
        if self._resolver is None:
            self._resolver = self._make_resolver()
            self._semaphore = asyncio.Semaphore(self.concurrency)
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as err:
            return Answer(name, rdtype, Status.NXDOMAIN, error=f"not a valid DNS name: {err}")
        async with self._semaphore:
            self.sent += 1
            try:
                result = await self._resolver.resolve(qname, rdtype, search=False)
            except dns.resolver.NXDOMAIN:
                return Answer(name, rdtype, Status.NXDOMAIN)
            except dns.resolver.NoAnswer:
                return Answer(name, rdtype, Status.NODATA)
            except dns.resolver.LifetimeTimeout:
                return Answer(name, rdtype, Status.TEMPFAIL, error=f"timeout after {self._resolver.lifetime:g}s")
            except dns.resolver.NoNameservers as err:
                return Answer(name, rdtype, Status.TEMPFAIL, error=_short(err))
            except (dns.exception.DNSException, OSError) as err:
                return Answer(name, rdtype, Status.TEMPFAIL, error=_short(err))
        return answer(name, rdtype, convert(rdtype, result))


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, dns.resolver.NoNameservers):
        # "All nameservers failed to answer the query x. IN TXT: Server Do53:1.2.3.4@53 answered SERVFAIL"
        text = text.split(": ", 1)[-1]
    return text.splitlines()[0][:200]
