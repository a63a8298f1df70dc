"""Parser for SPF records, following the ABNF of RFC 7208 §12.

``parse_record(text)`` returns a :class:`~spfguard.spf.terms.Record` or raises
:class:`~spfguard.spf.errors.SpfSyntaxError` with the 0-based character position of the problem and a
message a person can act on. The whole record is parsed before anything is evaluated, as §4.6 requires.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from spfguard.spf import macro
from spfguard.spf.errors import SpfSyntaxError
from spfguard.spf.terms import DomainSpec, Mechanism, Modifier, Record, Term

VERSION = "v=spf1"
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
# RFC 7208 §12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9\-_.]*)=")
_MECHANISM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9\-_.]*)")
# RFC 7208 §12: toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
_TOPLABEL_END = re.compile(
    r"\.(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9])\.?$"
)
# ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT); ip6-cidr-length = "/" ("0" / %x31-39 0*2DIGIT)
_CIDR = r"(?:0|[1-9][0-9]{0,2})"
_DUAL_CIDR = re.compile(rf"(?:/({_CIDR}))?(?://({_CIDR}))?$")
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IP4 = re.compile(rf"{_QNUM}\.{_QNUM}\.{_QNUM}\.{_QNUM}$")
_IP6_CHARS = re.compile(r"[0-9A-Fa-f:.]+$")
_BAD_CHARACTER = re.compile(r"[^\x21-\x7e]")


def is_spf_record(text: str) -> bool:
    """RFC 7208 §4.5: the record starts with "v=spf1" followed by a space or the end (case-insensitive)."""
    head = text[: len(VERSION) + 1]
    return head.lower() == VERSION or head.lower() == VERSION + " "


@functools.lru_cache(maxsize=1024)
def parse_record(text: str) -> Record:
    """The AST of a record (immutable, so one parse serves every evaluation that meets the same text); a syntax
    error is raised as SpfSyntaxError with its position."""
    if not is_spf_record(text):
        raise SpfSyntaxError("an SPF record must start with 'v=spf1' followed by a space", 0)
    terms: list[Term] = []
    seen_modifiers: dict[str, int] = {}
    pos = len(VERSION)
    # RFC 7208 §12: terms = *( 1*SP ( directive / modifier ) ); record = version terms *SP
    for match in re.finditer(r"[^ ]+", text[pos:]):
        start = pos + match.start()
        _check_characters(match.group(), start)
        term = parse_term(match.group(), start)
        if isinstance(term, Modifier) and term.name in ("redirect", "exp"):
            if term.name in seen_modifiers:
                raise SpfSyntaxError(
                    f"'{term.name}=' appears more than once (RFC 7208 §6: at most once per record)", start
                )
            seen_modifiers[term.name] = start
        terms.append(term)
    return Record(tuple(terms))


def _check_characters(term: str, start: int) -> None:
    """RFC 7208 §12: terms are visible ASCII separated by spaces only (§3.1: records are 7-bit ASCII)."""
    bad = _BAD_CHARACTER.search(term)
    if bad:
        ch = bad.group()
        if ord(ch) > 0x7E:
            what = "undecodable byte" if ch == "\ufffd" else "non-ASCII character"
            raise SpfSyntaxError(f"{what} {ch!r}: SPF records are plain ASCII", start + bad.start())
        raise SpfSyntaxError(f"control character {ch!r}: terms are separated by spaces only",
                             start + bad.start())


def parse_term(text: str, start: int = 0) -> Term:
    """Parse one directive or modifier; ``start`` is its position in the record, for error messages."""
    modifier = _MODIFIER.match(text)
    if modifier:
        return _parse_modifier(modifier.group(1).lower(), text[modifier.end() :], start, modifier.end())
    m = _MECHANISM.match(text)
    if not m:
        raise SpfSyntaxError(f"cannot read term {text!r}: expected a mechanism or a modifier", start)
    qualifier, name = m.groups()
    kind = name.lower()
    if kind not in MECHANISMS:
        raise SpfSyntaxError(f"unknown mechanism {name!r}", start + len(qualifier))
    rest = text[m.end() :]
    try:
        return _parse_mechanism(qualifier, kind, rest, m.end())
    except SpfSyntaxError as err:
        raise err.shifted(start) from None


def _parse_modifier(name: str, value: str, start: int, value_at: int) -> Modifier:
    try:
        if name in ("redirect", "exp"):
            domain = parse_domain_spec(value, value_at)
            return Modifier(name, value, domain)
        macro.tokenize(value, offset=value_at)  # unknown-modifier = name "=" macro-string
        return Modifier(name, value)
    except SpfSyntaxError as err:
        raise err.shifted(start) from None


def _parse_mechanism(qualifier: str, kind: str, rest: str, at: int) -> Mechanism:
    if kind == "all":
        if rest:
            raise SpfSyntaxError("'all' takes no argument", at)
        return Mechanism("all", qualifier)
    if kind in ("ip4", "ip6"):
        return _parse_ip(qualifier, kind, rest, at)
    if kind in ("a", "mx"):
        cidr = _DUAL_CIDR.search(rest)
        if cidr is None:  # the pattern matches every string (both lengths are optional)
            raise SpfSyntaxError(f"invalid {kind} term", at)
        spec, cidr4, cidr6 = rest[: cidr.start()], cidr.group(1), cidr.group(2)
        if cidr4 is not None and int(cidr4) > 32:
            raise SpfSyntaxError(f"IPv4 prefix length /{cidr4} is larger than 32", at + cidr.start())
        if cidr6 is not None and int(cidr6) > 128:
            raise SpfSyntaxError(f"IPv6 prefix length //{cidr6} is larger than 128", at + cidr.start())
        domain = _optional_domain(kind, spec, at)
        return Mechanism(kind, qualifier, domain, None,
                         None if cidr4 is None else int(cidr4), None if cidr6 is None else int(cidr6))
    if kind == "ptr":
        return Mechanism(kind, qualifier, _optional_domain(kind, rest, at))
    # include, exists: the domain-spec is required
    if not rest.startswith(":") or len(rest) == 1:
        raise SpfSyntaxError(f"'{kind}' needs a domain: '{kind}:example.com'", at)
    return Mechanism(kind, qualifier, parse_domain_spec(rest[1:], at + 1))


def _optional_domain(kind: str, spec: str, at: int) -> DomainSpec | None:
    if not spec:
        return None
    if not spec.startswith(":"):
        raise SpfSyntaxError(f"unexpected {spec!r} after '{kind}' (expected ':domain' or '/prefix')", at)
    if len(spec) == 1:
        raise SpfSyntaxError(f"empty domain after '{kind}:'", at)
    return parse_domain_spec(spec[1:], at + 1)


def parse_domain_spec(text: str, at: int = 0) -> DomainSpec:
    """RFC 7208 §7.1: domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand."""
    if not text:
        raise SpfSyntaxError("empty domain", at)
    tokens = macro.tokenize(text, offset=at)
    last = tokens[-1]
    if isinstance(last, macro.Literal):
        if not _TOPLABEL_END.search(last.text):
            raise SpfSyntaxError(
                f"{text!r} is not a valid domain: it must end in a top-level label such as '.com' or a macro",
                at,
            )
    return DomainSpec(text, tokens)


def _parse_ip(qualifier: str, kind: str, rest: str, at: int) -> Mechanism:
    if not rest.startswith(":") or len(rest) == 1:
        raise SpfSyntaxError(f"'{kind}' needs an address: '{kind}:192.0.2.0/24'"
                             if kind == "ip4" else f"'{kind}' needs an address: '{kind}:2001:db8::/32'", at)
    body = rest[1:]
    address_text, slash, prefix_text = body.partition("/")
    max_prefix = 32 if kind == "ip4" else 128
    prefix = None
    if slash:
        if not re.fullmatch(_CIDR, prefix_text) or int(prefix_text) > max_prefix:
            raise SpfSyntaxError(f"invalid prefix length '/{prefix_text}' (0 to {max_prefix}, no leading zeros)",
                                 at + 1 + len(address_text))
        prefix = int(prefix_text)
    try:
        if kind == "ip4":
            if not _IP4.match(address_text):
                raise ValueError
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(address_text)
        else:
            if not _IP6_CHARS.match(address_text):  # no zone index ("%eth0") nor anything else
                raise ValueError
            address = ipaddress.IPv6Address(address_text)
    except ValueError:
        raise SpfSyntaxError(f"{address_text!r} is not a valid IPv{kind[-1]} address", at + 1) from None
    if kind == "ip4":
        return Mechanism(kind, qualifier, None, address, prefix, None)
    return Mechanism(kind, qualifier, None, address, None, prefix)
