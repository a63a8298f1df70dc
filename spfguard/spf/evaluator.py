"""``check_host()`` (RFC 7208 §4 – §8): pure logic over an injected DNS client.

The evaluator never prints and never raises for SPF outcomes: permerror and temperror are results. It
records the path through include/redirect to the term that decided, and counts DNS-querying terms and void
lookups exactly as §4.6.4 asks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field

from spfguard.dns.base import Answer, DnsClient, Status, within
from spfguard.spf import macro
from spfguard.spf.errors import SpfSyntaxError
from spfguard.spf.limits import LOOKUP_LIMIT, MX_LIMIT, PTR_LIMIT, VOID_LIMIT
from spfguard.spf.names import truncate_domain, valid_domain, valid_name
from spfguard.spf.parser import parse_record
from spfguard.spf.terms import DomainSpec, Mechanism, Record
from spfguard.spf.txt import decode, join_strings, select_record

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESULTS = ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")


@dataclass(frozen=True)
class Limits:
    """RFC 7208 §4.6.4 processing limits. ``None`` lifts a limit (used to evaluate what an owner meant)."""

    lookups: int | None = LOOKUP_LIMIT  # DNS-querying terms: include a mx ptr exists redirect
    voids: int | None = VOID_LIMIT  # lookups answered NXDOMAIN or with no records
    mx_records: int | None = MX_LIMIT  # more MX records than this for one "mx" is a permerror
    ptr_names: int = PTR_LIMIT  # only this many PTR names are looked at ("ptr", %{p}); the rest are ignored


UNLIMITED = Limits(lookups=None, voids=None, mx_records=None)


@dataclass(frozen=True)
class PathStep:
    domain: str  # the domain whose record holds the term
    term: str  # the term as written, e.g. "include:_spf.google.com"

    def __str__(self) -> str:
        return f"{self.domain}: {self.term}"


@dataclass
class TraceStep:
    """One term as the evaluation met it: its target after macro expansion (§7) and whether it matched."""

    domain: str
    term: str
    depth: int  # 0 for the checked domain's record, +1 per include/redirect
    target: str | None = None  # the name looked up (macros expanded), for include/redirect/a/mx/ptr/exists
    matched: bool = False
    expansions: list[tuple[str, str]] = field(default_factory=list)  # each macro as written -> its value (§7.3)

    def lines(self) -> list[str]:
        """The term, then one line per macro and its value."""
        target = f" → {self.target}" if self.target is not None and self.target not in self.term else ""
        line = f"{'  ' * self.depth}{self.domain}: {self.term}{target}{'  (match)' if self.matched else ''}"
        return [line, *(f"{'  ' * self.depth}    {m} = {v}" for m, v in self.expansions)]

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class SpfResult:
    result: str
    explanation: str | None = None
    path: tuple[PathStep, ...] = ()  # from the checked domain down to the deciding term
    reason: str = ""
    lookups: int = 0
    void_lookups: int = 0
    trace: tuple[TraceStep, ...] = field(default=(), compare=False, repr=False)  # every term met, in order

    @property
    def term(self) -> str | None:
        return self.path[-1].term if self.path else None


class _Stop(Exception):
    """Ends the evaluation with permerror or temperror (RFC 7208 §2.6.6, §2.6.7)."""

    def __init__(self, result: str, reason: str, path: tuple[PathStep, ...] = ()):
        super().__init__(reason)
        self.result, self.reason, self.path = result, reason, path


@dataclass
class _Outcome:
    result: str
    domain: str
    record: Record | None
    path: tuple[PathStep, ...]
    reason: str


def sender_identity(sender: str | None, helo: str | None) -> str:
    """RFC 7208 §4.3 / §2.4: an empty MAIL FROM uses postmaster@HELO; an empty local-part is "postmaster"."""
    if not sender:
        sender = f"postmaster@{helo or ''}"
    local, at, domain = sender.rpartition("@")
    if not at:
        local, domain = "", sender
    return f"{local or 'postmaster'}@{domain}"


def as_client_ip(ip: str | IPAddress) -> IPAddress:
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # an IPv4-mapped IPv6 client is an IPv4 client
    return address


@dataclass
class _Evaluation:
    ip: IPAddress
    sender: str
    helo: str
    dns: DnsClient
    limits: Limits
    receiver: str = "unknown"
    timestamp: int = 0
    upper_hex: bool = False
    lookups: int = 0
    voids: int = 0
    stack: list[str] = field(default_factory=list)
    trace: list[TraceStep] = field(default_factory=list)

    # ---- counters (RFC 7208 §4.6.4) -------------------------------------------------------------

    def count_lookup(self, path: tuple[PathStep, ...]) -> None:
        self.lookups += 1
        if self.limits.lookups is not None and self.lookups > self.limits.lookups:
            raise _Stop("permerror",
                        f"more than {self.limits.lookups} DNS-querying terms (RFC 7208 §4.6.4)", path)

    def count_void(self, path: tuple[PathStep, ...]) -> None:
        self.voids += 1
        if self.limits.voids is not None and self.voids > self.limits.voids:
            raise _Stop("permerror", f"more than {self.limits.voids} void lookups (RFC 7208 §4.6.4)", path)

    async def query(self, name: str, rdtype: str, path: tuple[PathStep, ...], *, void_counts: bool = True):
        answer = await self.dns.query(name, rdtype)
        if answer.status is Status.TEMPFAIL:
            raise _Stop("temperror", f"DNS {rdtype} lookup for {name} failed: {answer.error or 'timeout'}",
                        path)
        if answer.void and void_counts:
            self.count_void(path)
        return answer

    # ---- macros ---------------------------------------------------------------------------------

    def context(self, domain: str) -> macro.MacroContext:
        return macro.MacroContext(self.ip, self.sender, domain, self.helo, self.receiver, self.timestamp,
                                  self.upper_hex)

    async def expand_domain(self, spec: DomainSpec, domain: str, step: TraceStep | None = None) -> str:
        steps = step.expansions if step is not None else None
        return truncate_domain(await macro.expand(spec.tokens, self.context(domain), self.validated_name, steps))

    async def validated_name(self) -> str:
        """RFC 7208 §7.3 ``%{p}``; lookup failures give "unknown"."""
        names = await self.validated_names()
        domain = self.stack[-1] if self.stack else ""
        for candidate in names:
            if candidate.lower() == domain.lower():
                return candidate
        for candidate in names:
            if within(candidate, domain):
                return candidate
        return names[0] if names else "unknown"

    async def validated_names(self, answer: Answer | None = None) -> list[str]:
        """RFC 7208 §5.5: PTR names of the client whose forward lookup gives the client's address back
        (``answer``: the PTR answer when the caller already has it)."""
        answer = answer or await self.dns.query(self.ip.reverse_pointer, "PTR")
        if answer.status is not Status.ANSWER:
            return []
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        validated = []
        for name in answer.records[: self.limits.ptr_names]:
            forward = await self.dns.query(name, rdtype)
            if forward.status is Status.ANSWER and self.ip in forward.records:
                validated.append(name)
        return validated

    # ---- check_host -----------------------------------------------------------------------------

    async def check_host(self, domain: str, path: tuple[PathStep, ...] = ()) -> _Outcome:
        domain = domain[:-1] if domain.endswith(".") else domain
        if not valid_domain(domain):  # RFC 7208 §4.3
            return _Outcome("none", domain, None, path, f"{domain!r} is not a valid domain name")
        answer = await self.dns.query(domain, "TXT")
        if answer.status is Status.TEMPFAIL:  # RFC 7208 §4.4
            raise _Stop("temperror", f"DNS TXT lookup for {domain} failed: {answer.error or 'timeout'}", path)
        selection = select_record(answer.records)
        if selection.multiple:  # RFC 7208 §4.5
            raise _Stop("permerror", f"{domain} publishes {len(selection.candidates)} SPF records", path)
        if selection.record is None:
            return _Outcome("none", domain, None, path, f"no SPF record at {domain}")
        try:
            record = parse_record(selection.record)  # RFC 7208 §4.6: any syntax error is a permerror
        except SpfSyntaxError as err:
            raise _Stop("permerror", f"syntax error in the SPF record of {domain}: {err}", path) from None
        if domain.lower() in self.stack:
            raise _Stop("permerror", f"include/redirect loop back to {domain}", path)
        self.stack.append(domain.lower())
        try:
            return await self.evaluate(record, domain, path)
        finally:
            self.stack.pop()

    async def evaluate(self, record: Record, domain: str, path: tuple[PathStep, ...]) -> _Outcome:
        for mech in record.reachable:  # RFC 7208 §4.6.2: left to right, first match wins; §5.1
            here = (*path, PathStep(domain, mech.render()))
            step = TraceStep(domain, mech.render(), len(path))
            self.trace.append(step)
            if mech.counts_lookup:
                self.count_lookup(here)
            inner = await self.matches(mech, domain, here, step)
            step.matched = inner is not None
            if inner is not None:
                decider = inner[-1]
                where = "" if decider.domain == domain else f" in {decider.domain}"
                return _Outcome(mech.result, domain, record, inner, f"matched {decider.term}{where}")
        redirect = record.effective_redirect
        if redirect is not None:  # RFC 7208 §6.1
            here = (*path, PathStep(domain, redirect.render()))
            step = TraceStep(domain, redirect.render(), len(path))
            self.trace.append(step)
            self.count_lookup(here)
            if redirect.domain is None:
                raise _Stop("permerror", "redirect= without a domain", here)
            target = step.target = await self.expand_domain(redirect.domain, domain, step)
            outcome = await self.check_host(target, here)
            if outcome.result == "none":
                raise _Stop("permerror", f"redirect target {target} has no SPF record", here)
            return outcome
        return _Outcome("neutral", domain, record, (*path, PathStep(domain, "(no match)")),
                        "no term matched: default neutral (RFC 7208 §4.7)")

    async def matches(self, mech: Mechanism, domain: str, here: tuple[PathStep, ...],
                      step: TraceStep) -> tuple[PathStep, ...] | None:
        """Whether ``mech`` matches; returns the path of the match (deeper for include) or None."""
        kind = mech.kind
        if kind == "all":
            return here
        if kind in ("ip4", "ip6"):
            network = mech.network
            return here if network is not None and self.ip.version == network.version and self.ip in network \
                else None
        target = await self.expand_domain(mech.domain, domain, step) if mech.domain is not None else domain
        step.target = target
        if kind == "include":  # RFC 7208 §5.2
            outcome = await self.check_host(target, here)
            if outcome.result == "pass":
                return outcome.path
            if outcome.result == "none":
                raise _Stop("permerror", f"included domain {target} has no SPF record", here)
            return None
        if not valid_name(target):
            return None  # an RFC 1035-invalid target name cannot exist: no match
        if kind == "a":  # RFC 7208 §5.3
            return here if await self.address_matches(target, mech, here) else None
        if kind == "mx":  # RFC 7208 §5.4
            answer = await self.query(target, "MX", here)
            hosts = [host for _, host in sorted(answer.records) if host not in ("", ".")]
            if self.limits.mx_records is not None and len(answer.records) > self.limits.mx_records:
                raise _Stop("permerror", f"{target} has {len(answer.records)} MX records "
                            f"(more than {self.limits.mx_records}, RFC 7208 §4.6.4)", here)
            for host in hosts:
                if await self.address_matches(host, mech, here):
                    return here
            return None
        if kind == "ptr":  # RFC 7208 §5.5
            answer = await self.dns.query(self.ip.reverse_pointer, "PTR")
            if answer.void:
                self.count_void(here)
            return here if any(within(name, target) for name in await self.validated_names(answer)) else None
        if kind == "exists":  # RFC 7208 §5.7: always an A query, whatever the client's address family
            answer = await self.query(target, "A", here)
            return here if answer.status is Status.ANSWER else None
        raise AssertionError(kind)

    async def address_matches(self, host: str, mech: Mechanism, here: tuple[PathStep, ...]) -> bool:
        rdtype, prefix = ("A", mech.cidr4) if self.ip.version == 4 else ("AAAA", mech.cidr6)
        answer = await self.query(host, rdtype, here)
        max_prefix = 32 if self.ip.version == 4 else 128
        prefix = max_prefix if prefix is None else prefix
        return any(self.ip in ipaddress.ip_network(f"{a}/{prefix}", strict=False) for a in answer.records)

    # ---- explanation (RFC 7208 §6.2) ------------------------------------------------------------

    async def explanation(self, outcome: _Outcome) -> str | None:
        exp = outcome.record.exp if outcome.record is not None else None
        if exp is None or exp.domain is None:
            return None
        try:
            target = await self.expand_domain(exp.domain, outcome.domain)
        except _Stop:
            return None
        if not valid_name(target):
            return None
        answer = await self.dns.query(target, "TXT")
        if answer.status is not Status.ANSWER or len(answer.records) != 1:
            return None  # §6.2: no record, several records or a DNS error: no explanation
        try:
            tokens = macro.tokenize(decode(join_strings(answer.records[0])), exp=True)
            return await macro.expand(tokens, self.context(outcome.domain), self.validated_name)
        except (SpfSyntaxError, _Stop):
            return None


async def check_host_async(
    ip: str | IPAddress,
    domain: str,
    sender: str | None = None,
    *,
    helo: str | None = None,
    dns: DnsClient,
    limits: Limits = Limits(),
    receiver: str = "unknown",
    timestamp: int | None = None,
) -> SpfResult:
    """RFC 7208 §4: evaluate the SPF policy of ``domain`` for a client ``ip``.

    ``sender`` is the MAIL FROM address (empty or None: ``postmaster@helo``).
    """
    ev = _Evaluation(
        ip=as_client_ip(ip),
        sender=sender_identity(sender, helo),
        helo=helo or "unknown",
        dns=dns,
        limits=limits,
        receiver=receiver,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        upper_hex=isinstance(ip, str) and ":" in ip and ip != ip.lower(),
    )
    try:
        outcome = await ev.check_host(domain)
    except _Stop as stop:
        return SpfResult(stop.result, None, stop.path, stop.reason, ev.lookups, ev.voids, tuple(ev.trace))
    explanation = await ev.explanation(outcome) if outcome.result == "fail" else None
    return SpfResult(outcome.result, explanation, outcome.path, outcome.reason, ev.lookups, ev.voids,
                     tuple(ev.trace))


def check_host(ip, domain, sender=None, *, helo=None, dns: DnsClient, **kwargs) -> SpfResult:
    """Synchronous :func:`check_host_async` for callers without an event loop."""
    return asyncio.run(check_host_async(ip, domain, sender, helo=helo, dns=dns, **kwargs))
