"""spfguard.dns.wire (the answer reader) and spfguard.dns.exchange (the stub's query and matching) against
dnspython: the same records and CNAME chains on real answers from Knot, on built messages and on mutated bytes;
hostile messages end in a WireError, never a hang or another exception."""

from __future__ import annotations

import asyncio
import ipaddress
import struct

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spfguard.dns import exchange, wire
from spfguard.dns.convert import convert

TYPES = ("A", "AAAA", "TXT", "MX", "PTR")
OWNERS = ("x.test", "X.Test", "y.test", "z.y.test", "w.test")


def reference(data: bytes, rdtype: str):
    """What dnspython makes of the message, in read_answer's terms (or the exception it raises)."""
    message = dns.message.from_wire(data)
    rcode = message.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return (rcode,)  # LiveDns takes the code alone (RFC 8020: nothing below exists either)
    chain = message.resolve_chaining()
    if chain.answer is not None:
        return rcode, convert(rdtype, chain.answer), None
    if chain.cnames and chain.canonical_name != message.question[0].name:
        return rcode, None, chain.canonical_name.to_text(omit_final_dot=True).lower()
    return rcode, None, None


def ours(data: bytes, rdtype: str):
    rcode, records, end = wire.read_answer(data, dns.rdatatype.from_text(rdtype))
    if rcode == dns.rcode.NXDOMAIN:
        return (rcode,)
    return rcode, records, (wire.name_text(end) if end is not None else None)


def rdata_text(rdtype: str, draw) -> str:
    if rdtype == "A":
        return str(ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1))))
    if rdtype == "AAAA":
        return str(ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1))))
    if rdtype == "TXT":
        strings = draw(st.lists(st.text("abc=v spf1:-~", max_size=8), min_size=1, max_size=3))
        return " ".join(f'"{s}"' for s in strings)
    if rdtype == "MX":
        return f"{draw(st.integers(0, 65535))} {draw(st.sampled_from(OWNERS))}."
    if rdtype in ("PTR", "CNAME"):
        return draw(st.sampled_from(OWNERS)) + "."
    raise AssertionError(rdtype)


@st.composite
def messages(draw):
    qtype = draw(st.sampled_from(TYPES))
    query = dns.message.make_query(draw(st.sampled_from(OWNERS)), qtype, id=draw(st.integers(0, 65535)))
    response = dns.message.make_response(query)
    response.set_rcode(draw(st.sampled_from([dns.rcode.NOERROR, dns.rcode.NOERROR, dns.rcode.NXDOMAIN])))
    for _ in range(draw(st.integers(0, 7))):
        rdtype = draw(st.sampled_from((*TYPES, "CNAME", "CNAME")))
        owner = draw(st.sampled_from(OWNERS))
        rrset = response.find_rrset(response.answer, dns.name.from_text(owner), dns.rdataclass.IN,
                                    dns.rdatatype.from_text(rdtype), create=True)
        if rdtype == "CNAME" and len(rrset):
            continue  # one CNAME per name
        rrset.add(dns.rdata.from_text("IN", rdtype, rdata_text(rdtype, draw)), 300)
    return response, qtype  # rendered by the test: dnspython's renderer touches the random module


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_built_messages_read_as_dnspython_reads_them(built):
    data, qtype = built[0].to_wire(), built[1]
    try:
        expected = reference(data, qtype)
    except dns.exception.DNSException:  # a CNAME chain that loops: too long for both
        with pytest.raises(wire.WireError):
            wire.read_answer(data, dns.rdatatype.from_text(qtype))
        return
    assert ours(data, qtype) == expected


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4),
       st.integers(0, 400))
def test_mutated_bytes_give_the_same_answer_or_a_wire_error(built, flips, cut):
    data, qtype = built[0].to_wire(), built[1]
    mutated = bytearray(data)
    for position, value in flips:
        if position < len(mutated):
            mutated[position] = value
    mutated = bytes(mutated[:max(cut, 12)] if cut < len(mutated) else mutated)
    try:
        got = ours(mutated, qtype)
    except wire.WireError:
        return  # refused: the stub asks the next server
    try:
        expected = reference(mutated, qtype)
    except (dns.exception.DNSException, ValueError, IndexError, KeyError, AttributeError):
        return  # dnspython stricter (it reads every section), or not a query's answer (another opcode)
    question_end = 12 + len(built[0].question[0].name.to_wire()) + 4  # exchange.answers holds the question equal
    query = data[:2] + bytes([data[2] & 0x7F]) + data[3:question_end]  # what exchange.answers compares with
    if exchange.answers(query, mutated):
        assert got == expected


def header(answers: int = 1, questions: int = 1) -> bytes:
    return struct.pack("!HHHHHH", 7, 0x8180, questions, answers, 0, 0)


QUESTION = dns.name.from_text("x.test").to_wire() + struct.pack("!HH", 16, 1)


@pytest.mark.parametrize("data", [
    header() + QUESTION + b"\xc0\x1c" + b"\x00" * 10,  # a pointer to itself
    header() + QUESTION + b"\x01a\xc0\x1c" + struct.pack("!HHIH", 16, 1, 0, 0),  # a pointer forwards
    header() + QUESTION + b"\x3fa" + b"\x00" * 10,  # a label longer than the message
    header() + QUESTION + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f" + b"c" * 63 + b"\x3f" + b"d" * 63
    + b"\x00" + struct.pack("!HHIH", 16, 1, 0, 0),  # a name of 257 octets
    header() + QUESTION + b"\x80" + b"\x00" * 10,  # an unknown label type
    header() + QUESTION + b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 0, 5) + b"\x01a\x00\x00\x00",  # CNAME too long
    header() + QUESTION + b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 0, 4) + b"\x05abc",  # TXT past its record
    header() + QUESTION + b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 0, 0),  # TXT without strings
    header() + QUESTION + b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 0, 40) + b"\x03abc",  # data past the end
    header(answers=3) + QUESTION,  # fewer records than the header says
    b"\x00\x07\x81\x80",  # shorter than a header
])
def test_hostile_messages_are_wire_errors(data):
    with pytest.raises(wire.WireError):
        wire.read_answer(data, 16)


@pytest.mark.parametrize("pointers", [16, 17, 1000])
def test_chains_of_backward_pointers_end_where_dnspythons_do(pointers):
    """Pointers, each to the one before: legal up to dnspython's 16, a WireError beyond (never a long walk)."""
    start = 12 + len(QUESTION) + 2 + 10  # the first record's data: after its owner (a pointer) and its header
    chain = b"\x00" + b"".join(struct.pack("!H", 0xC000 | (start if k == 0 else start + 1 + 2 * (k - 1)))
                              for k in range(pointers - 1))
    last = start + 1 + 2 * (pointers - 2)
    data = (header(answers=2) + QUESTION + b"\xc0\x0c" + struct.pack("!HHIH", 65280, 1, 0, len(chain)) + chain
            + struct.pack("!H", 0xC000 | last) + struct.pack("!HHIH", 16, 1, 0, 2) + b"\x01a")
    if pointers <= wire.MAX_POINTERS:
        assert ours(data, "TXT") == reference(data, "TXT") == (0, None, None)  # its owner is the root, not x.test
        return
    with pytest.raises(dns.name.PointerChainTooLong):
        reference(data, "TXT")
    with pytest.raises(wire.WireError):
        ours(data, "TXT")


def test_only_an_answer_to_our_own_query_is_taken():
    query = exchange.query_wire(dns.name.from_text("x.test"), 16)
    reply = dns.message.make_response(dns.message.from_wire(query))
    data = reply.to_wire()
    assert exchange.answers(query, data)
    assert exchange.answers(query, data[:12] + data[12:].upper())  # names compare without case (RFC 4343)
    assert not exchange.answers(query, b"\x00\x00" + data[2:] if data[:2] != b"\x00\x00" else b"\x00\x01" + data[2:])
    assert not exchange.answers(query, query)  # QR not set: our own query reflected
    assert not exchange.answers(query, data[:2] + bytes([data[2] | 0x28]) + data[3:])  # another opcode (UPDATE)
    other = dns.message.make_response(dns.message.make_query("y.test", "TXT"))
    other.id = reply.id
    assert not exchange.answers(query, other.to_wire())
    other_type = bytearray(data)
    other_type[len(query) - 3] ^= 0x20  # TXT (16) becomes 48: a byte that lower() would not touch, but compare it
    assert not exchange.answers(query, bytes(other_type))
    https = exchange.query_wire(dns.name.from_text("x.test"), 65)  # 0x41 is "A": lower() would make it 97 ("a")
    assert not exchange.answers(https, https[:2] + b"\x81\x80" + https[4:-3] + b"\x61" + https[-2:])
    refused = bytearray(data[:12])
    refused[3] = (refused[3] & 0xF0) | dns.rcode.REFUSED
    refused[4:6] = b"\x00\x00"
    assert exchange.answers(query, bytes(refused))  # REFUSED without a question is still its answer
    refused[3] &= 0xF0
    assert not exchange.answers(query, bytes(refused))  # but NOERROR without one is not


NAMES = ("aacn.org", "_spf.google.com", "docebosaas.com", "nothing.aacn.org", "chained.spfguard.test",
         "l1.spfguard.test", "mx.example.invalid")


def test_real_answers_from_knot_read_as_dnspython_reads_them(knot):
    host, port = knot.address.rsplit(":", 1)

    async def ask(name: str, rdtype: str) -> bytes:
        query = exchange.query_wire(dns.name.from_text(name), dns.rdatatype.from_text(rdtype))
        data = await exchange.udp(host, int(port), query, 2)
        return await exchange.tcp(host, int(port), query, 2) if exchange.truncated(data) else data

    compared = 0
    for name in NAMES:
        for rdtype in ("TXT", "A", "AAAA", "MX"):
            data = asyncio.run(ask(name, rdtype))
            got = ours(data, rdtype)
            assert got == reference(data, rdtype), (name, rdtype)
            compared += len(got) > 1 and bool(got[1])
    assert compared >= 5  # some of them had data


def test_an_answer_of_thousands_of_records_reads_as_dnspythons_with_each_record_once():
    query = dns.message.make_query("x.test", "TXT", id=7)
    response = dns.message.make_response(query)
    rrset = response.find_rrset(response.answer, query.question[0].name, dns.rdataclass.IN, dns.rdatatype.TXT,
                                create=True)
    for k in range(1800):
        rrset.add(dns.rdata.from_text("IN", "TXT", f'"{k}"'), 300)
    data = response.to_wire()
    question_end = 12 + len(query.question[0].name.to_wire()) + 4
    doubled = data[:6] + struct.pack("!H", 3600) + data[8:] + data[question_end:]  # every record twice
    got = ours(doubled, "TXT")
    assert got == reference(doubled, "TXT") and len(got[1]) == 1800
