"""The SPF record AST (RFC 7208 §4.6.1, §5, §6) and its rendering back to text."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property

from spfguard.spf import macro

QUALIFIER_RESULTS = {"": "pass", "+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
# RFC 7208 §4.6.4: the mechanisms and modifiers that cause DNS queries and count toward the limit of 10.
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})


@dataclass(frozen=True)
class DomainSpec:
    """A <domain-spec> (RFC 7208 §7.1): a macro-string ending in a top label or a macro."""

    text: str
    tokens: tuple[macro.Token, ...] = field(compare=False, repr=False, default=())

    @property
    def has_macros(self) -> bool:
        return macro.has_macros(self.tokens)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Mechanism:
    kind: str  # all include a mx ptr ip4 ip6 exists (lower case)
    qualifier: str = ""  # as written: "", "+", "-", "~" or "?"
    domain: DomainSpec | None = None
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None  # ip4 / ip6
    cidr4: int | None = None  # ip4 prefix, or the IPv4 half of a dual-cidr-length (a, mx)
    cidr6: int | None = None  # ip6 prefix, or the IPv6 half of a dual-cidr-length (a, mx)

    @property
    def result(self) -> str:
        """RFC 7208 §4.6.2: the result a match of this mechanism gives."""
        return QUALIFIER_RESULTS[self.qualifier]

    @property
    def counts_lookup(self) -> bool:
        return self.kind in LOOKUP_MECHANISMS

    @property
    def target(self) -> str | None:
        """The domain-spec as written, lower case without the trailing dot (None when there is none)."""
        return self.domain.text.lower().rstrip(".") if self.domain is not None else None

    @cached_property  # the AST is immutable; evaluations ask for it on every comparison
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """For ip4/ip6: the network authorised (host bits beyond the prefix are ignored, §5.6)."""
        if self.address is None:
            return None
        prefix = self.cidr4 if self.kind == "ip4" else self.cidr6
        max_prefix = 32 if self.kind == "ip4" else 128
        return ipaddress.ip_network(f"{self.address}/{max_prefix if prefix is None else prefix}", strict=False)

    def render(self) -> str:
        return self._text

    @cached_property  # immutable, and shared by every domain whose tree includes it: rendered once
    def _text(self) -> str:
        text = self.qualifier + self.kind
        if self.domain is not None:
            text += ":" + self.domain.text
        if self.address is not None:
            text += ":" + str(self.address)
            prefix = self.cidr4 if self.kind == "ip4" else self.cidr6
            if prefix is not None:
                text += f"/{prefix}"
        elif self.kind in ("a", "mx"):
            if self.cidr4 is not None:
                text += f"/{self.cidr4}"
            if self.cidr6 is not None:
                text += f"//{self.cidr6}"
        return text

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class Modifier:
    name: str  # lower case
    value: str
    domain: DomainSpec | None = None  # redirect / exp: the parsed domain-spec

    @property
    def counts_lookup(self) -> bool:
        return self.name == "redirect"  # RFC 7208 §4.6.4; exp= is not counted (§6.2)

    def render(self) -> str:
        return f"{self.name}={self.value}"

    def __str__(self) -> str:
        return self.render()


Term = Mechanism | Modifier


@dataclass(frozen=True)
class Record:
    """A parsed record: immutable, so what is derived from its terms is worked out once (a vendor's record is
    shared by every tree that includes it, :mod:`spfguard.tree`)."""

    terms: tuple[Term, ...]

    @cached_property
    def mechanisms(self) -> tuple[Mechanism, ...]:
        return tuple(t for t in self.terms if isinstance(t, Mechanism))

    def modifier(self, name: str) -> Modifier | None:
        return next((t for t in self.terms if isinstance(t, Modifier) and t.name == name), None)

    @cached_property
    def redirect(self) -> Modifier | None:
        return self.modifier("redirect")

    @cached_property
    def exp(self) -> Modifier | None:
        return self.modifier("exp")

    @cached_property
    def all(self) -> Mechanism | None:
        return next((m for m in self.mechanisms if m.kind == "all"), None)

    @cached_property
    def reachable(self) -> tuple[Mechanism, ...]:
        """The mechanisms evaluation can reach: those up to and including the first ``all``
        (RFC 7208 §5.1: "Mechanisms after 'all' will never be tested ... MUST be ignored")."""
        out = []
        for mech in self.mechanisms:
            out.append(mech)
            if mech.kind == "all":
                break
        return tuple(out)

    @cached_property
    def ignored(self) -> tuple[Mechanism, ...]:
        """Mechanisms after ``all``: parsed (a syntax error there is still a permerror, §4.6) but never tested."""
        return self.mechanisms[len(self.reachable):]

    @cached_property
    def effective_redirect(self) -> Modifier | None:
        """The redirect that evaluation can reach: never when the record has ``all`` (RFC 7208 §6.1)."""
        return None if self.all is not None else self.redirect

    @cached_property
    def lookup_terms(self) -> tuple[Mechanism | Modifier, ...]:
        """The terms an evaluation in which nothing matches queries DNS for, in order (RFC 7208 §4.6.4):
        the reachable include/a/mx/ptr/exists mechanisms, then the redirect it can reach."""
        terms: list[Mechanism | Modifier] = [m for m in self.reachable if m.counts_lookup]
        if self.effective_redirect is not None:
            terms.append(self.effective_redirect)
        return tuple(terms)

    def render(self) -> str:
        return " ".join(["v=spf1", *(t.render() for t in self.terms)])

    def __str__(self) -> str:
        return self.render()
