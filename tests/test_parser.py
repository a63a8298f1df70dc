"""Parser: the RFC 7208 §12 grammar, error positions, and the render round trip (hypothesis)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spfguard.spf import Mechanism, Modifier, SpfSyntaxError, parse_record
from spfguard.spf.parser import is_spf_record


def test_full_grammar():
    record = parse_record("v=spf1 +a -mx:mail.example.com/24//64 ~ptr ?include:_spf.%{d2} ip4:192.0.2.0/24 "
                          "ip6:2001:db8::/32 exists:%{ir}.%{v}._spf.%{d} a//96 redirect=_spf.example.com "
                          "exp=explain.%{d} x-foo=bar%{s}")
    kinds = [(t.qualifier, t.kind) if isinstance(t, Mechanism) else t.name for t in record.terms]
    assert kinds == [("+", "a"), ("-", "mx"), ("~", "ptr"), ("?", "include"), ("", "ip4"), ("", "ip6"),
                     ("", "exists"), ("", "a"), "redirect", "exp", "x-foo"]
    mx = record.terms[1]
    assert (mx.domain.text, mx.cidr4, mx.cidr6, mx.result) == ("mail.example.com", 24, 64, "fail")
    assert record.terms[7].cidr4 is None and record.terms[7].cidr6 == 96
    assert record.terms[3].domain.has_macros and not mx.domain.has_macros
    assert record.terms[4].network == ipaddress.ip_network("192.0.2.0/24")
    assert record.redirect.domain.text == "_spf.example.com" and record.exp.value == "explain.%{d}"


def test_host_bits_are_kept_and_ignored_for_matching():
    m = parse_record("v=spf1 ip4:98.124.224.28/24").terms[0]
    assert str(m.address) == "98.124.224.28" and m.render() == "ip4:98.124.224.28/24"
    assert m.network == ipaddress.ip_network("98.124.224.0/24")


def test_case_insensitive_names_and_version():
    record = parse_record("V=SPF1 INCLUDE:Example.COM Ip4:192.0.2.1 -ALL")
    assert [t.kind for t in record.terms] == ["include", "ip4", "all"]
    assert record.terms[0].domain.text == "Example.COM"


@pytest.mark.parametrize("text, position, words", [
    ("v=spf1 foo:bar", 7, "unknown mechanism"),
    ("v=spf1 -all ip4:192.0.2.300", 16, "not a valid IPv4"),
    ("v=spf1 ip4:192.0.2.0/33", 20, "prefix length"),
    ("v=spf1 ip4:192.0.2.0/024", 20, "no leading zeros"),
    ("v=spf1 a:museum", 9, "top-level label"),
    ("v=spf1 include:", 14, "needs a domain"),
    ("v=spf1 exists:%{z}.example.com", 16, "unknown macro letter"),
    ("v=spf1 a:%{d0}.example.com", 12, "non-zero"),
    ("v=spf1 a:foo%.example.com", 12, "'%' must start a macro"),
    ("v=spf1 exists:%{c}.example.com", 16, "only in exp="),
    ("v=spf1 redirect=a.example.com redirect=b.example.com", 30, "more than once"),
    ("v=spf1 exp=", 11, "empty domain"),
    ("v=spf1 all:foo", 10, "takes no argument"),
    ("v=spf1 ip6:fe80::1%eth0", 11, "not a valid IPv6"),
    ("v=spf1 a:ex\u00e4mple.com", 11, "non-ASCII"),
    ("v=spf1 -all\tinclude:example.com", 11, "control character"),
])
def test_syntax_errors_carry_position_and_message(text, position, words):
    with pytest.raises(SpfSyntaxError) as info:
        parse_record(text)
    assert info.value.position == position, str(info.value)
    assert words in str(info.value)
    assert f"at character {position + 1}" in str(info.value)


def test_record_selection_prefix():
    assert is_spf_record("v=spf1") and is_spf_record("v=spf1 -all") and is_spf_record("V=SPF1 -all")
    assert not is_spf_record("v=spf10 -all") and not is_spf_record("v=spf1\t-all") and not is_spf_record(" v=spf1")


def test_multiple_spaces_and_trailing_space_are_allowed():
    assert parse_record("v=spf1  a   -all ") == parse_record("v=spf1 a -all")


# ---- property tests ----------------------------------------------------------------------------------

LABEL = st.from_regex(r"[a-z0-9_](?:[a-z0-9\-]{0,8}[a-z0-9])?", fullmatch=True)
TOPLABEL = st.from_regex(r"[a-z]{2,6}", fullmatch=True)
MACRO = st.builds(lambda letter, digits, rev, delim: "%{" + letter + digits + rev + delim + "}",
                  st.sampled_from("slodiphvSLODIPHV"), st.sampled_from(["", "1", "2", "12"]),
                  st.sampled_from(["", "r"]), st.sampled_from(["", ".", "-", "+_="]))
DOMAIN = st.one_of(
    st.builds(lambda labels, top: ".".join([*labels, top]), st.lists(LABEL, min_size=1, max_size=3), TOPLABEL),
    st.builds(lambda m, rest: m + "." + rest, MACRO, st.builds(lambda a, b: a + "." + b, LABEL, TOPLABEL)),
    st.builds(lambda label, m: label + "." + m, LABEL, MACRO),
)
QUALIFIER = st.sampled_from(["", "+", "-", "~", "?"])


def _case(word: str, flags: list[bool]) -> str:
    return "".join(c.upper() if f else c for c, f in zip(word, flags + [False] * len(word), strict=False))


NAME = st.builds(_case, st.sampled_from(["include", "exists", "a", "mx", "ptr"]), st.lists(st.booleans()))
CIDR4 = st.one_of(st.just(""), st.integers(0, 32).map(lambda n: f"/{n}"))
CIDR6 = st.one_of(st.just(""), st.integers(0, 128).map(lambda n: f"//{n}"))
MECHANISM = st.one_of(
    st.builds(lambda q, d: f"{q}include:{d}", QUALIFIER, DOMAIN),
    st.builds(lambda q, d: f"{q}exists:{d}", QUALIFIER, DOMAIN),
    st.builds(lambda q, k, d, c4, c6: f"{q}{k}{(':' + d) if d else ''}{c4}{c6}", QUALIFIER,
              st.sampled_from(["a", "mx", "A", "Mx"]), st.one_of(st.just(""), DOMAIN), CIDR4, CIDR6),
    st.builds(lambda q, d: f"{q}ptr{(':' + d) if d else ''}", QUALIFIER, st.one_of(st.just(""), DOMAIN)),
    st.builds(lambda q, ip, c: f"{q}ip4:{ip}{c}", QUALIFIER, st.ip_addresses(v=4), CIDR4),
    st.builds(lambda q, ip, c: f"{q}ip6:{ip}{c}", QUALIFIER, st.ip_addresses(v=6),
              st.one_of(st.just(""), st.integers(0, 128).map(lambda n: f"/{n}"))),
    st.builds(lambda q: f"{q}all", QUALIFIER),
)
UNKNOWN_MODIFIER = st.builds(lambda n, v: f"{n}={v}", st.from_regex(r"x-[a-z0-9_.\-]{0,6}", fullmatch=True),
                             st.one_of(st.just(""), DOMAIN, MACRO))


@st.composite
def records(draw):
    terms = draw(st.lists(st.one_of(MECHANISM, UNKNOWN_MODIFIER), max_size=12))
    for name in ("redirect", "exp"):
        if draw(st.booleans()):
            terms.insert(draw(st.integers(0, len(terms))), f"{name}={draw(DOMAIN)}")
    spaces = draw(st.lists(st.sampled_from([" ", "  "]), min_size=len(terms), max_size=len(terms)))
    return "v=spf1" + "".join(s + t for s, t in zip(spaces, terms, strict=True))


@settings(max_examples=400, deadline=None)
@given(records())
def test_parse_render_parse_is_identical(text):
    first = parse_record(text)
    rendered = first.render()
    assert parse_record(rendered) == first
    assert parse_record(rendered).render() == rendered


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_only_raises_the_parsers_error(text):
    for candidate in (text, "v=spf1 " + text):
        try:
            record = parse_record(candidate)
        except SpfSyntaxError as err:
            assert 0 <= err.position <= len(candidate)
        else:
            assert parse_record(record.render()) == record


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "mx", "ip4:", "ip6:", "include:", "%{", "}", "/", "//", ":", "=", ".",
                                 "%", "-", "all", "1", "255", "::", "x.com", "redirect", "exp", " "]),
                max_size=20).map("".join))
def test_near_miss_records_only_raise_the_parsers_error(body):
    try:
        record = parse_record("v=spf1 " + body)
    except SpfSyntaxError:
        return
    assert all(isinstance(t, Mechanism | Modifier) for t in record.terms)
