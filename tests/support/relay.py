"""A DNS relay on loopback in front of a real server: delays every answer, or drops queries for some names.

Used to make timeouts real (a black-holed name never gets an answer) and, in ``bench/``, to give every
answer a fixed round-trip time. UDP and TCP (for truncated answers) are both relayed.
"""

from __future__ import annotations

import asyncio
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
        try:
            qname = dns.message.from_wire(wire).question[0].name
        except Exception:  # noqa: BLE001 - garbage in: drop it
            return True
        if any(qname.is_subdomain(n) for n in self.blackhole):
            self.dropped += 1
            return True
        return False

    async def _forward(self, wire: bytes, tcp: bool) -> bytes:
        if self.delay:
            await asyncio.sleep(self.delay)
        query = dns.message.from_wire(wire)
        host, port = self.upstream
        if tcp:
            response = await dns.asyncquery.tcp(query, host, port=port, timeout=5)
        else:
            response = await dns.asyncquery.udp(query, host, port=port, timeout=5, ignore_trailing=True,
                                                raise_on_truncation=False)
        return response.to_wire()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        relay = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                if not relay._dropped(data):
                    asyncio.ensure_future(self.answer(data, addr))

            async def answer(self, data, addr):
                try:
                    self.transport.sendto(await relay._forward(data, tcp=False), addr)
                except Exception:  # noqa: BLE001 - an upstream failure is a client timeout
                    pass

        async def tcp_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    data = await reader.readexactly(length)
                    if relay._dropped(data):
                        continue
                    reply = await relay._forward(data, tcp=True)
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        transport, _ = await self._loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", self.port))
        server = await asyncio.start_server(tcp_client, "127.0.0.1", self.port)
        self._ready.set()
        await self._stop.wait()
        transport.close()
        server.close()
