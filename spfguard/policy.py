"""What a walked SPF tree decides for every address: exact sets per result, computed symbolically.

``decide(tree)`` follows check_host() (RFC 7208 §4.6.2: first match wins, left to right) over address *sets*
instead of one address: each term takes the addresses it matches out of those still undecided. Includes
contribute the addresses for which the included record gives pass (§5.2), redirect hands every undecided
address to the target (§6.1), and whatever remains is neutral (§4.7). The processing limits are not applied:
this is what the owner meant, and ``check`` reports the limits separately.

Terms whose outcome depends on the message (exists, ptr, macros) cannot be decided statically: addresses
still undecided when such a term is reached are recorded in ``conditional``.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections import OrderedDict
from dataclasses import dataclass, field

from spfguard.ipset import IPSet
from spfguard.tree import Node, TermInfo

RESULTS = ("pass", "fail", "softfail", "neutral", "permerror", "temperror")


def universe(version: int) -> IPSet:
    return IPSet(version, [(0, (1 << (32 if version == 4 else 128)) - 1)])


_EMPTY = {4: IPSet(4), 6: IPSet(6)}  # immutable, so one of each does


@dataclass
class Decision:
    """For one address family: the addresses each result is given, and those that depend on the message."""

    version: int
    results: dict[str, IPSet] = field(default_factory=dict)
    conditional: IPSet | None = None

    def get(self, result: str) -> IPSet:
        return self.results.get(result) or _EMPTY[self.version]

    def add(self, result: str, addresses: IPSet) -> None:
        if addresses:
            self.results[result] = self.get(result) | addresses

    def mark_conditional(self, addresses: IPSet) -> None:
        if addresses:
            self.conditional = addresses if self.conditional is None else self.conditional | addresses

    def result_of(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
        return next((r for r, s in self.results.items() if address in s), "neutral")


@dataclass
class Policy:
    v4: Decision
    v6: Decision

    def family(self, version: int) -> Decision:
        return self.v4 if version == 4 else self.v6

    def passes(self, version: int) -> IPSet:
        return self.family(version).get("pass")


Memo = dict[tuple[int, int], Decision]


def decide(node: Node, memo: Memo | None = None) -> Policy:
    """The addresses each result is given, per family (shared: callers read it, never change it). ``memo`` keeps
    the decisions of the records of one tree for a caller that decides several of its nodes."""
    memo = {} if memo is None else memo
    return Policy(_included(node, 4, memo), _included(node, 6, memo))


def _term_set(node: Node, mech, info: TermInfo | None, version: int) -> IPSet | None:
    """The addresses a resolved a/mx/ip4/ip6 term matches, or None when it cannot be known statically."""
    if mech.kind in ("ip4", "ip6"):
        return IPSet.of(version, [mech.network])
    if info is None or info.macro or info.error:
        return None
    prefix = mech.cidr4 if version == 4 else mech.cidr6
    addresses = info.addresses4 if version == 4 else info.addresses6
    max_prefix = 32 if version == 4 else 128
    return IPSet.of(version, [ipaddress.ip_network(f"{a}/{max_prefix if prefix is None else prefix}", strict=False)
                              for a in addresses])


_INCLUDED: OrderedDict[tuple[int, int], tuple[Node, Decision]] = OrderedDict()
INCLUDED_CACHE = 4096  # decisions of included records kept (a fleet's vendor trees)


def _included(child: Node, version: int, memo: Memo) -> Decision:
    """The decision of an included record over every address: what it gives an address does not depend on which
    addresses the including record left undecided (RFC 7208 §5.2: the include evaluates check_host() anew), so a
    vendor tree shared by many domains' trees (the same Node, :mod:`spfguard.tree`) is decided once. Only shared
    trees are kept for the run; a domain's own records only in ``memo``, which its caller drops with the tree."""
    key = (id(child), version)
    if not child.shared:
        if key not in memo:
            memo[key] = _decide(child, version, universe(version), memo)
        return memo[key]
    found = _INCLUDED.get(key)
    if found is not None and found[0] is child:
        _INCLUDED.move_to_end(key)
        return found[1]
    decision = _decide(child, version, universe(version), memo)
    _INCLUDED[key] = (child, decision)  # the node is kept with it: its id cannot be reused while cached
    if len(_INCLUDED) > INCLUDED_CACHE:
        _INCLUDED.popitem(last=False)
    return decision


def _decide(node: Node, version: int, remaining: IPSet, memo: Memo) -> Decision:
    decision = Decision(version)
    if node.parsed is None:  # no record, syntax error, loop, …: an evaluation reaching it errs
        decision.add("temperror" if node.status == "temperror" else "permerror", remaining)
        return decision
    infos = {info.term: info for info in node.terms}
    batch: list[tuple[IPSet, str]] = []  # consecutive terms with known address sets, decided together

    def flush() -> None:
        nonlocal remaining
        if batch:
            decided, taken = _first_match(batch, version)
            for result, addresses in decided.items():
                decision.add(result, addresses & remaining)
            remaining = remaining - taken
            batch.clear()

    for mech in node.parsed.mechanisms:
        if not remaining:
            return decision
        info = infos.get(mech.render())
        if mech.kind in ("ip4", "ip6", "a", "mx"):
            if mech.kind in ("ip4", "ip6") and mech.kind != f"ip{version}":
                continue
            found = _term_set(node, mech, info, version)
            if found is not None:
                batch.append((found, mech.result))
                continue
            flush()
            decision.mark_conditional(remaining)
            continue
        flush()
        if not remaining:
            return decision
        if mech.kind == "all":
            decision.add(mech.result, remaining)
            return decision
        if mech.kind == "include":
            if info is None or info.child is None:  # a macro include: depends on the message
                decision.mark_conditional(remaining)
                continue
            inner = _included(info.child, version, memo)
            matched = inner.get("pass") & remaining
            decision.add(mech.result, matched)
            for error in ("permerror", "temperror"):  # errors inside an include end the evaluation (§5.2)
                decision.add(error, inner.get(error) & remaining)
                remaining = remaining - inner.get(error)
            if inner.conditional is not None:
                decision.mark_conditional(inner.conditional & remaining)
            remaining = remaining - matched
            continue
        if mech.kind == "exists" and info is not None and info.exists and not info.macro and not info.error:
            decision.add(mech.result, remaining)  # a name that exists: every client matches (RFC 7208 §5.7)
            return decision
        # exists (of a macro name, or of a name that does not exist today), ptr: depend on the message
        decision.mark_conditional(remaining)
    flush()
    redirect = node.parsed.effective_redirect
    if redirect is not None and remaining:
        info = infos.get(redirect.render())
        if info is None or info.child is None:
            decision.mark_conditional(remaining)
            decision.add("neutral", remaining)
            return decision
        inner = _decide(info.child, version, remaining, memo)
        for result, addresses in inner.results.items():
            decision.add(result, addresses & remaining)
        if inner.conditional is not None:
            decision.mark_conditional(inner.conditional & remaining)
        return decision
    decision.add("neutral", remaining)  # RFC 7208 §4.7
    return decision


def _first_match(batch: list[tuple[IPSet, str]], version: int) -> tuple[dict[str, IPSet], IPSet]:
    """RFC 7208 §4.6.2 over a run of terms with known address sets, in one pass: each address gets the result of
    the first term that holds it. Returns the addresses per result, and all the run decides. A sorted list of the
    intervals taken so far is kept, so a record of thousands of ranges costs n log n, not n²."""
    taken: list[tuple[int, int]] = []  # disjoint, sorted
    pieces: dict[str, list[tuple[int, int]]] = {}
    for addresses, result in batch:
        for lo, hi in addresses.ranges:
            k = bisect.bisect_left(taken, (lo, lo)) - 1
            k = max(k, 0)
            cursor, new = lo, []
            while k < len(taken) and taken[k][0] <= hi:
                t_lo, t_hi = taken[k]
                if t_hi >= cursor:
                    if t_lo > cursor:
                        new.append((cursor, t_lo - 1))
                    cursor = max(cursor, t_hi + 1)
                k += 1
            if cursor <= hi:
                new.append((cursor, hi))
            if new:
                pieces.setdefault(result, []).extend(new)
                for piece in new:
                    bisect.insort(taken, piece)
    return {r: IPSet(version, p) for r, p in pieces.items()}, IPSet(version, taken)
