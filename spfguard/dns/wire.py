"""Reading a DNS response (RFC 1035 §4.1) for the types spfguard asks: its code and the answer to the question.

dnspython's :func:`dns.message.from_wire` builds a whole message — every section, an rdataset per RR set, each
rdata hashed on insertion — and at fleet scale that was most of the CPU of a lookup (issue #25). This reader does
only what the question needs: the header, the question (skipped: :mod:`spfguard.dns.exchange` has matched it), and
the answer section's A, AAAA, TXT, MX, PTR and CNAME records of class IN, then follows the CNAME chain from the
question's name as :meth:`dns.message.Message.resolve_chaining` does (RFC 1034 §3.6.2, at most 16 links). The
authority and additional sections are not read.

Hostile input: every read is bounded by the message, a record's data must be exactly as long as it says, a name is
at most 255 octets, and compression pointers follow dnspython's rules (each before the previous one, at most 16), so
a pointer loop cannot run forever. Anything else malformed is a :class:`WireError`. The test suite holds this reader
equal to dnspython's on real answers, built messages and mutated bytes.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from typing import Any

import dns.name

A, CNAME, PTR, MX, TXT, AAAA = 1, 5, 12, 15, 16, 28
IN = 1
NXDOMAIN = 3
MAX_CHAIN = 16  # dnspython's limit on a CNAME chain inside one answer
MAX_POINTERS = 16  # and on the compression pointers of one name
_PLAIN = re.compile(rb"[a-z0-9_-]*")

Labels = tuple[bytes, ...]


class WireError(ValueError):
    """The message is malformed."""


def read_answer(data: bytes, rdtype: int) -> tuple[int, list[Any] | None, Labels | None]:
    """(RCODE, the records answering the question — None when the answer holds none —, the name a CNAME chain in
    the answer ends at without data — None when there is no chain). Records are normalised as
    :mod:`spfguard.dns.base` says, in the order of the message, without duplicates."""
    if len(data) < 12:
        raise WireError("shorter than a DNS header")
    _, flags, questions, answers = struct.unpack_from("!HHHH", data)
    rcode = flags & 0x000F
    offset = 12
    qname: Labels | None = None
    for _ in range(questions):
        name, offset = _name(data, offset)
        qname = qname if qname is not None else name
        offset += 4
    if offset > len(data):
        raise WireError("the question runs past the end")
    records: dict[tuple[Labels, int], dict[Any, None]] = {}  # in order, each record once (RFC 2181 §5)
    for _ in range(answers):
        owner, offset = _name(data, offset)
        if offset + 10 > len(data):
            raise WireError("a record header runs past the end")
        kind, rdclass, _, length = struct.unpack_from("!HHIH", data, offset)
        offset += 10
        end = offset + length
        if end > len(data):
            raise WireError("record data runs past the end")
        if rdclass == IN and kind in (rdtype, CNAME):
            records.setdefault((owner, kind), {})[_rdata(data, offset, end, kind)] = None
        offset = end
    if qname is None or rcode == NXDOMAIN:
        return rcode, None, None  # RFC 6604 §3: NXDOMAIN is about the chain's last name; the data does not matter
    name, links = qname, 0
    while (name, rdtype) not in records:
        target = records.get((name, CNAME)) if rdtype != CNAME else None
        if not target:
            return rcode, None, (name if links else None)
        links += 1
        if links >= MAX_CHAIN:
            raise WireError(f"a CNAME chain of more than {MAX_CHAIN} links")
        name = next(iter(target))
    return rcode, [_public(rdtype, v) for v in records[(name, rdtype)]], None


def name_text(labels: Labels) -> str:
    """A name as spfguard writes it: lower case, no final dot (dnspython's escapes for anything unusual)."""
    if labels and all(_PLAIN.fullmatch(label) for label in labels):
        return b".".join(labels).decode("ascii")
    return dns.name.Name((*labels, b"")).to_text(omit_final_dot=True).lower()


def _name(data: bytes, offset: int) -> tuple[Labels, int]:
    """A possibly compressed name (RFC 1035 §4.1.4), lower-cased, and the offset after it. dnspython's rules for
    pointers: each points before the previous one, at most 16 of them, and what a pointer leads to ends before
    the part of the name that pointed there (no overlap)."""
    labels: list[bytes] = []
    size = 1
    after: int | None = None
    start = offset  # where the part of the name being read began
    end = len(data)  # what it may read up to
    hops = 0
    while True:
        if offset >= end:
            raise WireError("a name runs past the end")
        count = data[offset]
        if count == 0:
            return tuple(labels), (offset + 1 if after is None else after)
        if count >= 0xC0:
            if offset + 1 >= end:
                raise WireError("a compression pointer runs past the end")
            target = ((count & 0x3F) << 8) | data[offset + 1]
            if target >= start:
                raise WireError("a compression pointer that does not point backwards")
            hops += 1
            if hops > MAX_POINTERS:
                raise WireError(f"a name of more than {MAX_POINTERS} compression pointers")
            if after is None:
                after = offset + 2
            end, start, offset = start, target, target
            continue
        if count > 63:
            raise WireError("an unknown label type")
        size += count + 1
        if size > 255:
            raise WireError("a name longer than 255 octets")
        if offset + 1 + count > end:
            raise WireError("a label runs past the end")
        labels.append(data[offset + 1:offset + 1 + count].lower())
        offset += 1 + count


def _rdata(data: bytes, offset: int, end: int, kind: int) -> Any:
    if kind == A or kind == AAAA:
        if end - offset != (4 if kind == A else 16):
            raise WireError("an address of the wrong length")
        return data[offset:end]
    if kind == TXT:
        strings = []
        while offset < end:
            stop = offset + 1 + data[offset]
            if stop > end:
                raise WireError("a TXT string runs past its record")
            strings.append(data[offset + 1:stop])
            offset = stop
        if not strings:
            raise WireError("a TXT record without strings")
        return tuple(strings)
    if kind == MX:
        if end - offset < 3:
            raise WireError("an MX record too short")
        exchange, stop = _name(data, offset + 2)
        if stop != end:
            raise WireError("an MX record of the wrong length")
        return struct.unpack_from("!H", data, offset)[0], exchange
    target, stop = _name(data, offset)  # CNAME, PTR
    if stop != end:
        raise WireError("a name record of the wrong length")
    return target


def _public(kind: int, value: Any) -> Any:
    if kind == A:
        return ipaddress.IPv4Address(value)
    if kind == AAAA:
        return ipaddress.IPv6Address(value)
    if kind == MX:
        return value[0], name_text(value[1])
    if kind in (PTR, CNAME):
        return name_text(value)
    return value
