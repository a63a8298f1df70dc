"""Live DNS through dnspython's asyncio resolver.

One :class:`LiveDns` per run: its cache (keyed by name and type, in-flight queries shared, bounded, least
recently used out first) and its concurrency limit belong to the instance, never to the module. It may be used
from more than one event loop in turn (``fix`` plans, then verifies): queries in flight belong to the loop that
started them, finished answers are kept, and the concurrency limit is rebuilt for each loop. Truncated UDP
answers are retried over TCP by dnspython; a CNAME chain that ends outside the answer (an authoritative server
only follows its own zones) is followed with further queries. ``max_qps`` caps the queries per second to each
nameserver, so that a fleet run does not get its user rate-limited by a public resolver.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import cast

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from spfguard.dns.base import Answer, Status, answer, normalise_name
from spfguard.dns.convert import convert
from spfguard.hostport import format_host_port, parse_host_port

MAX_CNAME_CHAIN = 8


@dataclass(frozen=True)
class NameserverAddress:
    host: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> NameserverAddress:
        """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or a bare IPv6 address (one parser: :mod:`spfguard.hostport`)."""
        return cls(*parse_host_port(text, 53, "nameserver"))

    def __str__(self) -> str:
        return format_host_port(self.host, self.port)


class LiveDns:
    shares_subtrees = True  # the same answers for the whole run: walked subtrees are shared (spfguard.tree)
    def __init__(
        self,
        nameservers: Sequence[str | NameserverAddress] = (),
        *,
        timeout: float = 2.0,
        retries: int = 2,
        concurrency: int = 64,
        cache_size: int = 20_000,
        max_qps: float | None = None,
    ):
        self.nameservers = [n if isinstance(n, NameserverAddress) else NameserverAddress.parse(n)
                            for n in nameservers]
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self.max_qps = max_qps  # queries per second to each nameserver, at most (fleet runs, public resolvers)
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._pace: asyncio.Lock | None = None
        self._next_send = 0.0
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], Answer | asyncio.Future[Answer]] = OrderedDict()
        self.sent = 0  # queries actually sent (cache misses), for tests and benchmarks
        self.timeouts = 0

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

    def _bind(self) -> None:
        """Per event loop: a fresh concurrency limit; answers of queries still in flight in another loop are
        forgotten (they can never finish there)."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._pace = asyncio.Lock()
        for key in [k for k, v in self._cache.items() if isinstance(v, asyncio.Future) and not v.done()]:
            del self._cache[key]
        if self._resolver is None:
            self._resolver = self._make_resolver()
            count = max(1, len(self._resolver.nameservers))
            self._interval = 1.0 / (self.max_qps * count) if self.max_qps else 0.0

    async def query(self, name: str, rdtype: str) -> Answer:
        self._bind()
        key = (normalise_name(name), rdtype)
        entry = self._cache.get(key)
        if entry is not None:
            self._cache.move_to_end(key)  # least recently used goes first: vendor chains shared by many stay
        if isinstance(entry, Answer):
            return entry
        if entry is None or entry.done() and entry.cancelled():
            entry = asyncio.ensure_future(self._resolve(key[0], rdtype))
            entry.add_done_callback(partial(self._keep, key))
            self._cache[key] = entry
            if len(self._cache) > self.cache_size:  # least recently used first; awaiters keep their future
                self._cache.popitem(last=False)
        return await asyncio.shield(entry)

    def _keep(self, key: tuple[str, str], future: asyncio.Future[Answer]) -> None:
        if self._cache.get(key) is future and not future.cancelled() and future.exception() is None:
            self._cache[key] = future.result()

    async def _throttle(self) -> None:
        if not self._interval:
            return
        async with cast(asyncio.Lock, self._pace):
            now = time.monotonic()
            wait = self._next_send - now
            self._next_send = max(now, self._next_send) + self._interval
        if wait > 0:
            await asyncio.sleep(wait)

    async def _resolve(self, name: str, rdtype: str) -> Answer:
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as err:
            return Answer(name, rdtype, Status.NXDOMAIN, error=f"not a valid DNS name: {err}")
        resolver = cast(dns.asyncresolver.Resolver, self._resolver)
        async with cast(asyncio.Semaphore, self._semaphore):
            for _ in range(MAX_CNAME_CHAIN):
                await self._throttle()
                self.sent += 1
                try:
                    result = await resolver.resolve(qname, rdtype, search=False)
                except dns.resolver.NXDOMAIN:
                    return Answer(name, rdtype, Status.NXDOMAIN)
                except dns.resolver.NoAnswer as err:
                    target = _chain_end(err.response(), qname)
                    if target is None:
                        return Answer(name, rdtype, Status.NODATA)
                    qname = target  # the chain leaves the server's zones: follow it (RFC 1034 §3.6.2)
                    continue
                except dns.resolver.LifetimeTimeout:
                    self.timeouts += 1
                    return Answer(name, rdtype, Status.TEMPFAIL,
                                  error=f"timeout after {resolver.lifetime:g}s")
                except (dns.exception.DNSException, OSError) as err:
                    return Answer(name, rdtype, Status.TEMPFAIL, error=_short(err))
                return answer(name, rdtype, convert(rdtype, result))
        return Answer(name, rdtype, Status.TEMPFAIL, error=f"CNAME chain of {name} longer than {MAX_CNAME_CHAIN}")


def _chain_end(response: dns.message.Message | None, qname: dns.name.Name) -> dns.name.Name | None:
    """The last name of a CNAME chain the response holds without its data, or None (a real NODATA)."""
    if response is None:
        return None
    try:
        chain = cast(dns.message.QueryMessage, response).resolve_chaining()
    except dns.exception.DNSException:
        return None
    return chain.canonical_name if chain.cnames and chain.answer is None and chain.canonical_name != qname \
        else None


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, dns.resolver.NoNameservers):
        # "All nameservers failed to answer the query x. IN TXT: Server Do53:1.2.3.4@53 answered SERVFAIL"
        text = text.split(": ", 1)[-1]
    return text.splitlines()[0][:200]
