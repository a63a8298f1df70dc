"""IPSet against Python's own sets of integers: every operation exact, every result in canonical form."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from spfguard.ipset import IPSet

ranges = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 30)).map(lambda t: (t[0], t[0] + t[1])),
                  max_size=8)


def members(s: IPSet) -> set[int]:
    return {a for lo, hi in s.ranges for a in range(lo, hi + 1)}


def canonical(s: IPSet) -> bool:
    """Sorted, disjoint and not adjacent: the form equality and hashing rely on."""
    pairs = zip(s.ranges, s.ranges[1:], strict=False)
    return all(lo <= hi for lo, hi in s.ranges) and all(a[1] + 1 < b[0] for a, b in pairs)


@given(ranges, ranges)
def test_operations_are_exact_and_canonical(left, right):
    a, b = IPSet(4, left), IPSet(4, right)
    for result, expected in ((a | b, members(a) | members(b)), (a - b, members(a) - members(b)),
                             (a & b, members(a) & members(b))):
        assert members(result) == expected and canonical(result)
        assert result == IPSet(4, [(x, x) for x in expected])  # equal to the same set built from scratch
    assert a.issubset(b) == (members(a) <= members(b))
    for x in (0, 57, 200, 230):
        assert (ipaddress.IPv4Address(x) in a) == (x in members(a))


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**20)), max_size=6), st.integers(0, 2**100))
def test_cidrs_are_what_the_standard_library_summarises(ranges4, start6):
    four = IPSet(4, [(lo, min(lo + size, 2**32 - 1)) for lo, size in ranges4])
    six = IPSet(6, [(start6, start6 + 2**70 + 12345)])
    for s, address in ((four, ipaddress.IPv4Address), (six, ipaddress.IPv6Address)):
        expected = [n for lo, hi in s.ranges for n in ipaddress.summarize_address_range(address(lo), address(hi))]
        assert s.cidrs() == expected
        assert s.cidr_texts() == tuple(str(n) for n in expected) and s.cidr_texts() is s.cidr_texts()


def test_the_whole_space_and_single_addresses():
    assert [str(n) for n in IPSet(4, [(0, 2**32 - 1)]).cidrs()] == ["0.0.0.0/0"]
    assert IPSet(6, [(0, 2**128 - 1)]).cidr_texts() == ("::/0",)
    assert IPSet(4, [(1, 1), (3, 3)]).cidr_texts() == ("0.0.0.1/32", "0.0.0.3/32")


@given(st.integers(0, 2**128 - 1) | st.sampled_from([0, 1, 2**32 + 5, 0xFFFF << 32 | 0x01020304, 1 << 112, 2**128 - 1]))
def test_address_text_is_the_standard_librarys(address):
    from spfguard.ipset import _text4, _text6

    assert _text6(address) == str(ipaddress.IPv6Address(address))
    assert _text4(address >> 96) == str(ipaddress.IPv4Address(address >> 96))
