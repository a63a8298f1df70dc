"""The stub resolver (spfguard.dns.live over spfguard.dns.exchange) against hostile and broken nameservers, each a
real socket on loopback: forged and garbage datagrams before the answer, a truncated answer whose TCP server
trickles bytes, a closed port, a server that answers SERVFAIL, and one that answers with a malformed message."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from spfguard.dns.base import Status
from spfguard.dns.live import LiveDns


class FakeServer:
    """UDP (and TCP) on a loopback port; ``reply(query_wire) -> list of datagrams`` decides what is sent back."""

    def __init__(self, reply, tcp=None):
        self.reply, self.tcp_handler = reply, tcp
        self.udp, self.tcp = self._bind_both()
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.stopped = False
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _bind_both(self) -> tuple[socket.socket, socket.socket]:
        """A UDP and a TCP socket on one free loopback port (another test may hold the TCP side: try again)."""
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            self.port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                tcp.bind(("127.0.0.1", self.port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen()
            return udp, tcp
        raise RuntimeError("no loopback port free for both UDP and TCP")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve_udp(self):
        while not self.stopped:
            try:
                data, client = self.udp.recvfrom(4096)
            except OSError:
                continue
            for datagram in self.reply(data):
                self.udp.sendto(datagram, client)

    def _serve_tcp(self):
        while not self.stopped:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                continue
            if self.tcp_handler is not None:
                threading.Thread(target=self.tcp_handler, args=(conn,), daemon=True).start()
            else:
                conn.close()

    def stop(self):
        self.stopped = True
        for thread in self.threads:
            thread.join(2)
        self.udp.close()
        self.tcp.close()


def answer_for(query_wire: bytes, text: str = "v=spf1 -all", rcode: int = dns.rcode.NOERROR) -> dns.message.Message:
    query = dns.message.from_wire(query_wire)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    if rcode == dns.rcode.NOERROR:
        response.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "TXT", f'"{text}"'))
    return response


@pytest.fixture
def serve():
    servers = []

    def start(reply, tcp=None) -> FakeServer:
        servers.append(FakeServer(reply, tcp))
        return servers[-1]
    yield start
    for server in servers:
        server.stop()


def ask(address: str, name: str = "x.test", *, timeout: float = 0.5, retries: int = 0):
    return asyncio.run(LiveDns([address], timeout=timeout, retries=retries).query(name, "TXT"))


def test_forged_and_garbage_datagrams_before_the_answer_are_ignored(serve):
    def reply(query):
        real = answer_for(query).to_wire()
        forged = answer_for(query, "v=spf1 +all")
        forged.id = (forged.id + 1) % 65536  # another ID: an off-path guess
        other = answer_for(dns.message.make_query("y.test", "TXT").to_wire(), "v=spf1 +all")
        other.id = forged.id - 1 if forged.id else 1
        other_question = bytearray(other.to_wire())
        other_question[:2] = real[:2]  # the right ID, another question
        return [b"\x00" * 3, b"\xff" * 40, forged.to_wire(), bytes(other_question), real]

    server = serve(reply)
    answer = ask(server.address)
    assert answer.status is Status.ANSWER and answer.records == ((b"v=spf1 -all",),)


def test_a_tcp_server_that_trickles_bytes_is_a_timeout_not_a_hang(serve):
    def truncated(query):
        response = answer_for(query)
        response.flags |= dns.flags.TC
        return [response.to_wire()]

    def trickle(conn):
        try:
            for byte in b"\x00\x40" + b"\x00" * 0x40:
                conn.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()

    server = serve(truncated, trickle)
    started = time.monotonic()
    answer = ask(server.address, timeout=0.5, retries=1)
    assert answer.status is Status.TEMPFAIL
    assert time.monotonic() - started < 3  # within timeout × (retries + 1), with room


def test_a_closed_port_fails_at_once_with_the_reason():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: the kernel answers ICMP port unreachable
    started = time.monotonic()
    answer = ask(f"127.0.0.1:{port}", timeout=2, retries=2)
    assert answer.status is Status.TEMPFAIL and "refused" in answer.error.lower()
    assert time.monotonic() - started < 1  # not after the timeouts


@pytest.mark.parametrize(("reply", "words"), [
    (lambda q: [answer_for(q, rcode=dns.rcode.SERVFAIL).to_wire()], "answered SERVFAIL"),
    (lambda q: [answer_for(q).to_wire()[:-3]], "runs past"),  # cut short: a malformed answer
])
def test_a_server_that_fails_is_a_temporary_failure_that_says_why(serve, reply, words):
    server = serve(reply)
    answer = ask(server.address)
    assert answer.status is Status.TEMPFAIL and words in answer.error and server.address in answer.error


def test_the_next_nameserver_is_asked_when_the_first_fails(serve):
    failing = serve(lambda q: [answer_for(q, rcode=dns.rcode.REFUSED).to_wire()])
    working = serve(lambda q: [answer_for(q).to_wire()])
    answer = asyncio.run(LiveDns([failing.address, working.address], timeout=0.5, retries=0).query("x.test", "TXT"))
    assert answer.status is Status.ANSWER


def test_an_event_loop_without_readiness_callbacks_still_gets_its_answers(serve, monkeypatch):
    """Windows' proactor loop has no add_reader: the exchange falls back to sock_recv, with the same matching."""
    def no_readers(self, *args):
        raise NotImplementedError

    monkeypatch.setattr(asyncio.SelectorEventLoop, "add_reader", no_readers)
    test_forged_and_garbage_datagrams_before_the_answer_are_ignored(serve)
    silent = serve(lambda q: [])
    assert ask(silent.address, timeout=0.3).status is Status.TEMPFAIL
