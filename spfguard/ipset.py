"""Exact sets of IPv4 / IPv6 addresses as sorted, merged integer intervals.

Used for coverage (is every range of a vendor authorised?), redundancy and flattening: union,
difference, containment, and the shortest CIDR list for a set (``ipaddress.collapse_addresses``).
"""

from __future__ import annotations

import bisect
import ipaddress
import socket
from collections.abc import Iterable, Iterator

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class IPSet:
    """A set of addresses of one family (4 or 6), immutable."""

    __slots__ = ("version", "_ranges", "_starts", "_texts")

    def __init__(self, version: int, ranges: Iterable[tuple[int, int]] = ()):
        self.version = version
        self._ranges = _merge(ranges)
        self._starts: list[int] | None = None  # for membership by bisection, built when first asked
        self._texts: tuple[str, ...] | None = None  # cidr_texts(), kept: vendors' sets are shared by many domains

    @classmethod
    def _canonical(cls, version: int, ranges: tuple[tuple[int, int], ...]) -> IPSet:
        """From ranges already sorted, disjoint and not adjacent (what the operations below produce)."""
        made = object.__new__(cls)
        made.version, made._ranges, made._starts, made._texts = version, ranges, None, None
        return made

    @classmethod
    def of(cls, version: int, networks: Iterable[Network | str]) -> IPSet:
        nets = [ipaddress.ip_network(n, strict=False) if isinstance(n, str) else n for n in networks]
        return cls(version, ((int(n.network_address), int(n.broadcast_address))
                             for n in nets if n.version == version))

    @property
    def ranges(self) -> tuple[tuple[int, int], ...]:
        return self._ranges

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IPSet) and (self.version, self._ranges) == (other.version, other._ranges)

    def __hash__(self) -> int:
        return hash((self.version, self._ranges))

    def __or__(self, other: IPSet) -> IPSet:
        if not other._ranges:
            return self
        if not self._ranges:
            return other
        return IPSet(self.version, (*self._ranges, *other._ranges))

    def __sub__(self, other: IPSet) -> IPSet:
        if not self._ranges or not other._ranges:
            return self
        out: list[tuple[int, int]] = []
        theirs = other._ranges
        j = 0
        for lo, hi in self._ranges:
            while j < len(theirs) and theirs[j][1] < lo:
                j += 1
            k = j
            while lo <= hi and k < len(theirs) and theirs[k][0] <= hi:
                t_lo, t_hi = theirs[k]
                if t_lo > lo:
                    out.append((lo, t_lo - 1))
                lo = max(lo, t_hi + 1)
                k += 1
            if lo <= hi:
                out.append((lo, hi))
        return IPSet._canonical(self.version, tuple(out))

    def __and__(self, other: IPSet) -> IPSet:
        if not self._ranges or not other._ranges:
            return IPSet._canonical(self.version, ())
        out: list[tuple[int, int]] = []
        mine, theirs = self._ranges, other._ranges
        i = j = 0
        while i < len(mine) and j < len(theirs):
            lo, hi = max(mine[i][0], theirs[j][0]), min(mine[i][1], theirs[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if mine[i][1] < theirs[j][1]:
                i += 1
            else:
                j += 1
        return IPSet._canonical(self.version, tuple(out))

    def issubset(self, other: IPSet) -> bool:
        return not (self - other)

    def __contains__(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if address.version != self.version:
            return False
        if self._starts is None:
            self._starts = [lo for lo, _ in self._ranges]
        value = int(address)
        k = bisect.bisect_right(self._starts, value) - 1
        return k >= 0 and value <= self._ranges[k][1]

    def _blocks(self) -> Iterator[tuple[int, int]]:
        """(first address, prefix length) of the fewest CIDR blocks covering exactly this set, in order: from each
        range's start, the largest block aligned there that still fits (RFC 4632 §3.1)."""
        bits = 32 if self.version == 4 else 128
        for lo, hi in self._ranges:
            while lo <= hi:
                size = min((lo & -lo).bit_length() - 1 if lo else bits, (hi - lo + 1).bit_length() - 1)
                yield lo, bits - size
                lo += 1 << size

    def cidrs(self) -> list[Network]:
        """The shortest list of CIDR networks covering exactly this set."""
        cls = ipaddress.IPv4Network if self.version == 4 else ipaddress.IPv6Network
        return [cls(block) for block in self._blocks()]

    def cidr_texts(self) -> tuple[str, ...]:
        """:meth:`cidrs` as text (``192.0.2.0/24``), worked out once per set."""
        if self._texts is None:
            text = _text4 if self.version == 4 else _text6
            self._texts = tuple(f"{text(first)}/{prefix}" for first, prefix in self._blocks())
        return self._texts

    def __repr__(self) -> str:
        return f"IPSet({self.version}, {[str(n) for n in self.cidrs()]})"


def _text4(address: int) -> str:
    return socket.inet_ntoa(address.to_bytes(4, "big"))


def _text6(address: int) -> str:
    """RFC 5952 text, as :mod:`ipaddress` writes it; the C library's is the same (and ten times faster) except
    for the IPv4-compatible and IPv4-mapped forms, which it writes with a dotted quad."""
    if address >> 32 in (0, 0xFFFF):
        return str(ipaddress.IPv6Address(address))
    return socket.inet_ntop(socket.AF_INET6, address.to_bytes(16, "big"))


def _merge(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def aggregate(networks: Iterable[Network]) -> list[Network]:
    """IPv4 networks first, then IPv6, each family merged to the fewest CIDRs."""
    nets = list(networks)
    return IPSet.of(4, nets).cidrs() + IPSet.of(6, nets).cidrs()


def sample_points(network: Network) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The first, a middle and the last address of a network: where a check of the whole range samples it."""
    first, last = int(network.network_address), int(network.broadcast_address)
    return [type(network.network_address)(a) for a in dict.fromkeys((first, (first + last) // 2, last))]
