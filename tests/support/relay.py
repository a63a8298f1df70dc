"""A DNS relay on loopback in front of a real server: delays every answer, or drops queries for some names.

Used to make timeouts real (a black-holed name never gets an answer) and, in ``bench/``, to give every
answer a fixed round-trip time. UDP and TCP (for truncated answers) are both relayed.

UDP datagrams are forwarded as bytes (only their ID is rewritten, so that queries of different clients cannot
collide upstream) and parsed only when names are black-holed: a relay that stands for the network should cost the
machine as little as the network does, or a benchmark on two cores measures the relay (issue #25).
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import threading

import dns.asyncquery
import dns.message
import dns.name

from tests.support.knot import free_port


class DnsRelay:
    def __init__(self, upstream: tuple[str, int], *, delay: float = 0.0, blackhole: tuple[str, ...] = ()):
        self.upstream = upstream
        self.delay = delay
        self.blackhole = tuple(dns.name.from_text(n) for n in blackhole)
        self.port = 0
        self.received = 0
        self.dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DnsRelay:
        self.port = free_port()
        self._thread = threading.Thread(target=self._run, name="dns-relay", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("DNS relay did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    def _dropped(self, wire: bytes) -> bool:
        self.received += 1
        if not self.blackhole:
            return False
        try:
            qname = dns.message.from_wire(wire).question[0].name
        except Exception:  # noqa: BLE001 - garbage in: drop it
            return True
        if any(qname.is_subdomain(n) for n in self.blackhole):
            self.dropped += 1
            return True
        return False

    async def _forward_tcp(self, wire: bytes) -> bytes:
        if self.delay:
            await asyncio.sleep(self.delay)
        host, port = self.upstream
        response = await dns.asyncquery.tcp(dns.message.from_wire(wire), host, port=port, timeout=5)
        return response.to_wire()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        relay = self

        pending: dict[int, tuple[bytes, tuple]] = {}  # upstream ID -> (the client's ID, the client)
        ids = itertools.cycle(range(65536))

        class Upstream(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                client = pending.pop(int.from_bytes(data[:2], "big"), None) if len(data) >= 12 else None
                if client is not None:
                    listener.sendto(client[0] + data[2:], client[1])

        class Udp(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                if len(data) < 12 or relay._dropped(data):
                    return
                if relay.delay:
                    relay._loop.call_later(relay.delay, self.forward, data, addr)
                else:
                    self.forward(data, addr)

            def forward(self, data, addr):
                key = next(ids)
                pending[key] = (data[:2], addr)  # a lost answer's entry is overwritten 65,536 queries later
                upstream.sendto(key.to_bytes(2, "big") + data[2:])

        async def tcp_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    data = await reader.readexactly(length)
                    if relay._dropped(data):
                        continue
                    reply = await relay._forward_tcp(data)
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        upstream, _ = await self._loop.create_datagram_endpoint(Upstream, remote_addr=self.upstream)
        listener, _ = await self._loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", self.port))
        server = await asyncio.start_server(tcp_client, "127.0.0.1", self.port)
        self._ready.set()
        await self._stop.wait()
        listener.close()
        upstream.close()
        server.close()
