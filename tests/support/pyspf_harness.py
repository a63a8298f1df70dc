"""pyspf (the reference Python implementation, PyPI ``pyspf``) over the same in-memory DNS as spfguard's eval,
with switches that correct each of its known deviations from RFC 7208 — so that a disagreement between the two
is either explained by one documented deviation or is a failure.

Each deviation has an id, the RFC section pyspf departs from, and a patch that makes pyspf follow the RFC on
that one point. A disagreement is explained when pyspf with every correction agrees with spfguard; the
explanation is the smallest set of corrections that does.
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from itertools import combinations

import spf

from spfguard.dns.base import Status
from spfguard.dns.memory import MemoryDns


@dataclass(frozen=True)
class Deviation:
    id: str
    rfc: str
    what: str


DEVIATIONS = {d.id: d for d in (
    Deviation("trivial-recursion", "RFC 7208 §5.2, §4.6.4",
              "a record that includes its own domain is a permerror before evaluation, even when a term before "
              "the include matches; the RFC makes a loop an error only when evaluation reaches it"),
    Deviation("ptr-forward-voids", "RFC 7208 §5.5, §4.6.4",
              "the A/AAAA lookups that validate the client's PTR names count as void lookups; §5.5 skips a name "
              "whose lookup fails, and §4.6.4 limits those lookups only by number (10 address records)"),
    Deviation("mx-every-host", "RFC 7208 §5.4",
              "an mx term looks up the addresses of every MX host before comparing any, so hosts after the one "
              "that matches still add void lookups; §5.4 matches as soon as one address matches, and spfguard's "
              "eval (like Mail::SPF) stops there"),
    Deviation("redirect-counted-at-parse", "RFC 7208 §6.1, §4.6.4",
              "redirect= counts toward the 10 lookups when its record is parsed, even when a mechanism matches "
              "first; it is a DNS-querying term only when evaluation reaches it (§6.1: used when no mechanism "
              "matches)"),
    Deviation("modifier-case", "RFC 7208 §4.6.1",
              "REDIRECT= and EXP= written in capitals are ignored as unknown modifiers; mechanism and modifier "
              "names are case-insensitive (§4.6.1, RFC 5234 ABNF)"),
    Deviation("repeated-unknown-modifier", "RFC 7208 §6",
              "an unknown modifier that appears twice is a permerror; only redirect= and exp= are limited to one "
              "each, and unknown modifiers MUST be ignored (§6)"),
    Deviation("p-macro-voids", "RFC 7208 §7.3, §4.6.4",
              "the PTR and address lookups made to expand %{p} count as void lookups; %{p} is a macro, not a "
              "DNS-querying term, and a failed validation expands to \"unknown\" (§7.3)"),
)}


class _Lookup:
    """pyspf's DNSLookup hook, answering from a MemoryDns (CNAMEs already followed, as a resolver would)."""

    def __init__(self) -> None:
        self.dns: MemoryDns | None = None

    def __call__(self, name, qtype, strict=True, timeout=None):
        if qtype == "SPF":  # RFC 7208 §3.1: type SPF is not consulted
            return []
        answer = self.dns.lookup(name, qtype)
        if answer.status is Status.TEMPFAIL:
            raise spf.TempError("DNS timeout")
        out = []
        for record in answer.records:
            value = tuple(record) if qtype == "TXT" else record if qtype == "MX" else str(record)
            out.append(((name, qtype), value))
        return out


LOOKUP = _Lookup()
spf.DNSLookup = LOOKUP


def _line_of(function, text: str) -> int:
    lines, first = inspect.getsourcelines(function)
    return first + next(i for i, line in enumerate(lines) if text in line)


# where pyspf 2.0.14 looks up the record a redirect names (the point at which the RFC counts the redirect)
_REDIRECT_USE = _line_of(spf.query.check0, "redirect_record = self.dns_spf(redirect)")


_MODIFIER = re.compile(r"(?<=\s)(redirect|exp)=", re.I)


class _Hosts(list):
    """MX host names whose addresses are looked up one at a time (the mx-every-host correction)."""


class _Query(spf.query):
    fixes: frozenset[str] = frozenset()
    _quiet = False  # expanding %{p}: no void lookups (the p-macro-voids correction)

    def getp(self):
        self._quiet = "p-macro-voids" in self.fixes
        try:
            return super().getp()
        finally:
            self._quiet = False

    def dns(self, name, qtype, cnames=None, ignore_void=False):
        return super().dns(name, qtype, cnames=cnames, ignore_void=ignore_void or self._quiet)

    def validate_mechanism(self, mech):
        try:
            return super().validate_mechanism(mech)
        except spf.PermError as err:
            if "trivial-recursion" in self.fixes and "trivial recursion" in str(err):
                qualifier = mech[0] if mech[0] in "+-~?" else "+"
                return mech, "include", self.d, self.cidrmax, spf.RESULTS[qualifier]
            raise

    def dns_mx(self, domainname):
        if "mx-every-host" not in self.fixes:
            return super().dns_mx(domainname)
        names = sorted(self.dns(domainname, "MX"))
        if len(names) > spf.MAX_MX:
            raise spf.PermError(f"More than {spf.MAX_MX} MX records returned")
        return _Hosts(name for _, name in names)

    def cidrmatch(self, ipaddrs, n):
        if isinstance(ipaddrs, _Hosts):  # one MX host at a time, stopping at the first match
            return any(super(_Query, self).cidrmatch(self.dns_a(host, self.A), n) for host in ipaddrs)
        return super().cidrmatch(ipaddrs, n)

    def note_error(self, *msg):
        if "repeated-unknown-modifier" in self.fixes and msg and str(msg[0]).endswith("= MUST appear at most once") \
                and not str(msg[0]).startswith(("redirect=", "exp=")):
            return None
        return super().note_error(*msg)

    def check_lookups(self):
        if "redirect-counted-at-parse" in self.fixes:
            caller = sys._getframe(1)
            # check0's modifier loop binds ``m`` to a list; its mechanism loop to the mechanism's name
            if caller.f_code.co_name == "check0" and isinstance(caller.f_locals.get("m"), list) \
                    and caller.f_locals.get("mod") == "redirect":
                return None  # counted below, when the redirect is used
        return super().check_lookups()

    def dns_spf(self, domain):
        caller = sys._getframe(1)
        if "redirect-counted-at-parse" in self.fixes and caller.f_code.co_name == "check0" \
                and caller.f_lineno == _REDIRECT_USE:
            super().check_lookups()
        record = super().dns_spf(domain)
        if "modifier-case" in self.fixes and record:
            record = _MODIFIER.sub(lambda m: m.group(1).lower() + "=", record)
        return record

    def validated_ptrs(self):
        if "ptr-forward-voids" not in self.fixes:
            return super().validated_ptrs()
        names = self.dns_ptr(self.i)[: spf.MAX_PTR]
        return [p for p in names if self.cidrmatch(self.dns(p, self.A, ignore_void=True), self.cidrmax)]


def evaluate(dns: MemoryDns, ip: str, domain: str, sender: str, helo: str,
             fixes: frozenset[str] = frozenset()) -> tuple[str, str]:
    """pyspf's check_host() result and its message, with the given corrections."""
    LOOKUP.dns = dns
    query = _Query(i=ip, s=sender, h=helo, strict=True, timeout=30)
    query.fixes = fixes
    result, _, message = query.check()
    return result, message or ""


def explain(dns: MemoryDns, ip: str, domain: str, sender: str, helo: str, ours: str) -> tuple[str, ...] | None:
    """The smallest set of documented deviations that makes pyspf agree with ``ours``, or None."""
    ids = sorted(DEVIATIONS)
    for size in range(1, len(ids) + 1):
        for fixes in combinations(ids, size):
            if evaluate(dns, ip, domain, sender, helo, frozenset(fixes))[0] == ours:
                return fixes
    return None
