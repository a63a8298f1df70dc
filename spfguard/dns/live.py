"""Live DNS: a stub resolver on asyncio (:mod:`spfguard.dns.exchange` on the wire, :mod:`spfguard.dns.wire` to read).

One :class:`LiveDns` per run: its cache (keyed by name and type, in-flight queries shared, bounded, least
recently used out first) and its concurrency limit belong to the instance, never to the module. It may be used
from more than one event loop in turn (``fix`` plans, then verifies): queries in flight belong to the loop that
started them, finished answers are kept, and the concurrency limit is rebuilt for each loop. Truncated UDP
answers are retried over TCP; a CNAME chain that ends outside the answer (an authoritative server
only follows its own zones) is followed with further queries. ``max_qps`` caps the queries per second to each
nameserver, so that a fleet run does not get its user rate-limited by a public resolver.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

import dns.exception
import dns.name
import dns.rcode
import dns.rdatatype

from spfguard.dns import exchange, wire
from spfguard.dns.base import Answer, Status, answer, normalise_name
from spfguard.errors import UserError, first_line
from spfguard.hostport import format_host_port, parse_host_port

MAX_CNAME_CHAIN = 8
RESOLV_CONF = Path("/etc/resolv.conf")


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
        cache_size: int = 8_192,
        max_qps: float | None = None,
    ):
        self.nameservers = [n if isinstance(n, NameserverAddress) else NameserverAddress.parse(n)
                            for n in nameservers]
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self.max_qps = max_qps  # queries per second to each nameserver, at most (fleet runs, public resolvers)
        self._asked: list[NameserverAddress] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._pace: asyncio.Lock | None = None
        self._next_send = 0.0
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], Answer | asyncio.Future[Answer]] = OrderedDict()
        self.sent = 0  # queries actually sent (cache misses), for tests and benchmarks
        self.timeouts = 0

    def _servers(self) -> list[NameserverAddress]:
        """The nameservers asked: those given, else the system's."""
        if self.nameservers:
            return self.nameservers
        found = system_nameservers()
        if not found:
            raise UserError("no nameserver to ask: the system names none; give --nameserver")
        return found

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
        if self._asked is None:
            self._asked = self._servers()
            count = max(1, len(self._asked))
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
        code = dns.rdatatype.from_text(rdtype)
        async with cast(asyncio.Semaphore, self._semaphore):
            for _ in range(MAX_CNAME_CHAIN):
                self.sent += 1
                response = await self._ask(qname, code)
                if isinstance(response, str):
                    return Answer(name, rdtype, Status.TEMPFAIL, error=response)
                rcode, records, chain_end = response
                if rcode == dns.rcode.NXDOMAIN:
                    return Answer(name, rdtype, Status.NXDOMAIN)
                if records is not None:
                    return answer(name, rdtype, records)
                if chain_end is None:
                    return Answer(name, rdtype, Status.NODATA)
                qname = dns.name.Name((*chain_end, b""))  # the chain leaves the server's zones (RFC 1034 §3.6.2)
        return Answer(name, rdtype, Status.TEMPFAIL, error=f"CNAME chain of {name} longer than {MAX_CNAME_CHAIN}")

    async def _ask(self, qname: dns.name.Name, rdtype: int) -> tuple[int, list | None, wire.Labels | None] | str:
        """The first NOERROR or NXDOMAIN answer of the nameservers in turn, ``retries`` more rounds after
        timeouts, within ``timeout × (retries + 1)`` seconds; else why not. A server that answers another code
        (SERVFAIL, REFUSED …), a malformed message or a network error is not asked again for this name."""
        loop = asyncio.get_running_loop()
        query = exchange.query_wire(qname, rdtype)
        lifetime = self.timeout * (self.retries + 1)
        deadline = loop.time() + lifetime
        servers = list(cast(list, self._asked))
        error = "no nameserver to ask"
        for _ in range(self.retries + 1):
            for server in list(servers):
                left = deadline - loop.time()
                if left <= 0:
                    break
                await self._throttle()
                try:
                    data = await exchange.udp(server.host, server.port, query, min(self.timeout, left))
                    if exchange.truncated(data):
                        data = await exchange.tcp(server.host, server.port, query,
                                                  max(0.0, min(self.timeout, deadline - loop.time())))
                    rcode = data[3] & 0x0F
                    if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                        return wire.read_answer(data, rdtype)
                except TimeoutError:
                    continue
                except wire.WireError as err:
                    error = f"{server} sent a malformed answer ({err})"
                except OSError as err:  # ICMP said no, or the TCP connection broke
                    error = f"{server}: {err.strerror or first_line(err)}"
                else:
                    error = f"{server} answered {dns.rcode.to_text(cast(dns.rcode.Rcode, rcode))}"
                servers.remove(server)
            if not servers:
                return error
        self.timeouts += 1
        return f"timeout after {lifetime:g}s"


def system_nameservers(path: Path = RESOLV_CONF) -> list[NameserverAddress]:
    """The ``nameserver`` lines of resolv.conf(5); where there is no such file (Windows), dnspython's reading of
    the system's configuration (its import costs ~60 ms of start-up, so it is not the first choice)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        import dns.resolver

        try:
            system = dns.resolver.Resolver()
        except dns.exception.DNSException:
            return []
        return [NameserverAddress(str(n), system.port) for n in system.nameservers]
    found = []
    for line in text.splitlines():
        words = line.split()  # "the keyword (e.g., nameserver) must start the line" (resolv.conf(5))
        if len(words) >= 2 and words[0] == "nameserver" and line.startswith("nameserver"):
            try:
                found.append(NameserverAddress(str(ipaddress.ip_address(words[1])), 53))
            except ValueError:
                continue  # not an address: the C library ignores it too
    return found
