"""Splitting a record that is too long into chained records ``_spf1.DOMAIN``, ``_spf2.DOMAIN`` … — only when the
final record needs it (RFC 7208 §3.4: keep a record under ~450 bytes so the answer fits a 512-byte UDP reply)."""

from __future__ import annotations

import re

from spfguard.errors import PlanError
from spfguard.ipset import aggregate
from spfguard.spf.limits import RECORD_BYTES_LIMIT
from spfguard.spf.parser import parse_domain_spec
from spfguard.spf.terms import Mechanism, Record, Term


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


def split(domain: str, terms: list[Term]) -> tuple[dict[str, str], list[str]]:
    """The record set for ``terms`` and the actions it took: the root alone when it fits; else the root with its
    pass-qualified ranges aggregated in place of the first one, when that fits; else those ranges moved into a
    chain of included records (aggregated and sorted, so that re-flattening the chain later gives the very same
    records)."""
    if _fits(terms):
        return {domain: Record(tuple(terms)).render()}, []
    movable = [t for t in terms if isinstance(t, Mechanism) and t.network is not None and t.result == "pass"]
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
