"""Splitting a record that is too long into chained records ``_spf1.DOMAIN``, ``_spf2.DOMAIN`` … — only when the
final record needs it (RFC 7208 §3.4: keep a record under ~450 bytes so the answer fits a 512-byte UDP reply)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from spfguard.errors import PlanError
from spfguard.ipset import aggregate
from spfguard.spf.limits import RECORD_BYTES_LIMIT
from spfguard.spf.parser import parse_domain_spec
from spfguard.spf.terms import Mechanism, Record, Term
from spfguard.tree import TermInfo


def chain_name(domain: str, n: int) -> str:
    return f"_spf{n}.{domain}"


def is_chain(target: str, domain: str) -> bool:
    return re.fullmatch(rf"_spf\d+\.{re.escape(domain)}", target.lower().rstrip(".")) is not None


def include(target: str, qualifier: str = "") -> Mechanism:
    return Mechanism("include", qualifier, parse_domain_spec(target))


def ip_term(network, qualifier: str = "") -> Mechanism:
    kind = f"ip{network.version}"
    full = network.prefixlen == network.max_prefixlen
    prefix = None if full else network.prefixlen
    return Mechanism(kind, qualifier, None, network.network_address,
                     prefix if kind == "ip4" else None, prefix if kind == "ip6" else None)


def _fits(terms: list[Term]) -> bool:
    return len(Record(tuple(terms)).render().encode()) <= RECORD_BYTES_LIMIT


def _movable(terms: list[Term], infos: Mapping[str, TermInfo] | None) -> list[Mechanism]:
    """The pass-qualified ranges that can all be evaluated at the place of the first one without changing any
    address's result (RFC 7208 §4.6.2, first match wins): a range stays where it is when a term between the
    first range and it could give some of its addresses another result first — a non-pass range that overlaps
    it, any other non-pass term (``~include:``, ``-a`` … may match anyone), or a pass include that can end in an
    error (whose permerror would have come first)."""
    out: list[Mechanism] = []
    blocked: list = []  # the non-pass networks met since the first range
    anything = False  # a term that may give anyone another result has been met
    for term in terms:
        if not isinstance(term, Mechanism):
            continue
        if term.network is not None:
            if term.result == "pass":
                if not anything and not any(term.network.overlaps(n) for n in blocked
                                            if n.version == term.network.version):
                    out.append(term)
            elif out:
                blocked.append(term.network)
            continue
        if not out or term.kind == "all":
            continue
        if term.result != "pass" or (term.kind == "include" and not _clean(term, infos)):
            anything = True
    return out


def _clean(term: Mechanism, infos: Mapping[str, TermInfo] | None) -> bool:
    """An include whose evaluation can end only in a match or no match (its tree is whole: no missing record, loop,
    syntax error or temporary failure)."""
    info = infos.get(term.render()) if infos is not None else None
    if info is None or info.child is None:
        return False
    return all(node.status == "ok" and not any(i.error for i in node.terms) for node in info.child.walk())


def split(domain: str, terms: list[Term], infos: Mapping[str, TermInfo] | None = None
          ) -> tuple[dict[str, str], list[str]]:
    """The record set for ``terms`` and the actions it took: the root alone when it fits; else the root with its
    pass-qualified ranges aggregated in place of the first one, when that fits; else those ranges moved into a
    chain of included records (aggregated and sorted, so that re-flattening the chain later gives the very same
    records). Only ranges that keep their results when evaluated at that place are moved (``infos``: what each
    include of ``terms`` resolved to, to tell an include that cannot fail)."""
    if _fits(terms):
        return {domain: Record(tuple(terms)).render()}, []
    movable = _movable(terms, infos)
    networks = [net for t in movable if (net := t.network) is not None]
    length = len(Record(tuple(terms)).render().encode())
    if not movable:
        raise PlanError(f"the record would be {length} bytes (over {RECORD_BYTES_LIMIT}: the answer may not fit a "
                        "512-byte UDP reply) and it has no ip4/ip6 ranges to move into a chained record; drop an "
                        "include you no longer use")
    first = next(i for i, t in enumerate(terms) if any(t is m for m in movable))
    rest = [t for t in terms if not any(t is m for m in movable)]
    ranges = [ip_term(n) for n in aggregate(networks)]
    inline = [*rest[:first], *ranges, *rest[first:]]
    if _fits(inline):
        action = f"aggregate {len(movable)} ip4/ip6 range(s) into {len(ranges)} to keep the record under " \
                 f"{RECORD_BYTES_LIMIT} bytes"
        return {domain: Record(tuple(inline)).render()}, [action] if len(ranges) < len(movable) else []
    chunks: list[list[str]] = []
    for text in (r.render() for r in ranges):
        tail = f" include:{chain_name(domain, len(chunks) + 1)} -all"
        if chunks and len(("v=spf1 " + " ".join([*chunks[-1], text]) + tail).encode()) <= RECORD_BYTES_LIMIT:
            chunks[-1].append(text)
        else:
            chunks.append([text])
    records = {}
    for n, chunk in enumerate(chunks, start=1):
        nxt = f" include:{chain_name(domain, n + 1)}" if n < len(chunks) else ""
        records[chain_name(domain, n)] = "v=spf1 " + " ".join(chunk) + nxt + " -all"
    root_terms = [*rest[:first], include(chain_name(domain, 1)), *rest[first:]]
    records[domain] = Record(tuple(root_terms)).render()
    names = ", ".join(chain_name(domain, n) for n in range(1, len(chunks) + 1))
    return records, [f"move {len(ranges)} aggregated range(s) into chained record(s) {names} (the record would be "
                     f"{length} bytes, over {RECORD_BYTES_LIMIT})"]
