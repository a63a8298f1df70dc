"""One DNS exchange with one nameserver, as a stub resolver makes it: a query over UDP from a fresh socket (a
random source port and a random ID per query: RFC 5452 §9.2), the answer taken only from that server's address
with the same ID and question (RFC 5452 §9.1), and the query repeated over TCP when the answer is truncated
(RFC 7766 §5; RFC 1035 §4.2.2 for the two-byte length).

This is the only part of a lookup that waits on the network. It costs a socket, one reader callback and one
timer, where dnspython's resolver adds a resolution object, a transport and protocol per query and a parsed query
message: at fleet scale those were most of the CPU (issue #25). The answer is read by :mod:`spfguard.dns.wire`.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
from typing import cast

import dns.name

MAX_UDP = 65535
_ERROR_RCODES_WITHOUT_QUESTION = {1, 2, 4, 5}  # FORMERR, SERVFAIL, NOTIMP, REFUSED may come back without one


def query_wire(qname: dns.name.Name, rdtype: int) -> bytes:
    """A query for ``qname``/``rdtype`` (class IN) with recursion desired and a random ID (RFC 1035 §4.1)."""
    header = struct.pack("!HHHHHH", secrets.randbits(16), 0x0100, 1, 0, 0, 0)
    return header + cast(bytes, qname.to_wire()) + struct.pack("!HH", rdtype, 1)


def answers(query: bytes, data: bytes) -> bool:
    """``data`` is a response to ``query``: the same ID and opcode, QR set, and the same question (names compared
    without case: RFC 4343 §3) — or an error code with no question at all."""
    if len(data) < 12 or data[:2] != query[:2] or not data[2] & 0x80 or data[2] & 0x78 != query[2] & 0x78:
        return False
    questions = data[4:6]
    if questions == b"\x00\x00":
        return data[3] & 0x0F in _ERROR_RCODES_WITHOUT_QUESTION
    name_end = len(query) - 4  # then QTYPE and QCLASS, compared as they are
    return questions == b"\x00\x01" and data[12:name_end].lower() == query[12:name_end].lower() and \
        data[name_end:len(query)] == query[name_end:]


def truncated(data: bytes) -> bool:
    return bool(data[2] & 0x02)  # TC: RFC 1035 §4.1.1


async def udp(host: str, port: int, query: bytes, timeout: float) -> bytes:
    """The answer to ``query`` from ``host``:``port``; :class:`TimeoutError` when none came in ``timeout``
    seconds, :class:`OSError` when the network said no (unreachable, port closed)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect((host, port))  # the kernel drops datagrams from any other address
        sock.send(query)
        future: asyncio.Future[bytes] = loop.create_future()

        def readable() -> None:
            while not future.done():
                try:
                    data = sock.recv(MAX_UDP)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as err:  # an ICMP error for this socket (port unreachable …)
                    future.set_exception(err)
                    return
                if answers(query, data):  # anything else is ignored: a late or forged datagram
                    future.set_result(data)

        fd = sock.fileno()
        try:
            loop.add_reader(fd, readable)
        except NotImplementedError:  # an event loop without readiness callbacks (Windows' proactor)
            return await asyncio.wait_for(_receive(loop, sock, query), timeout)
        timer = loop.call_later(timeout, _expire, future)
        try:
            return await future
        finally:
            timer.cancel()
            loop.remove_reader(fd)
    finally:
        sock.close()


async def _receive(loop: asyncio.AbstractEventLoop, sock: socket.socket, query: bytes) -> bytes:
    while True:
        data = await loop.sock_recv(sock, MAX_UDP)
        if answers(query, data):
            return data


async def tcp(host: str, port: int, query: bytes, timeout: float) -> bytes:
    """The same exchange over TCP (for a truncated UDP answer)."""
    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(length)
        finally:
            writer.close()
        if not answers(query, data):
            raise OSError("the answer over TCP does not match the query")
        return data

    try:
        return await asyncio.wait_for(exchange(), timeout)
    except asyncio.IncompleteReadError:
        raise OSError("the server closed the TCP connection mid-answer") from None


def _expire(future: asyncio.Future[bytes]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
