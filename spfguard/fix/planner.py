"""Plan a corrected SPF record set for a domain, as ordered passes over the root record's terms.

1. drop duplicate terms;                     4. use a platform's own include instead of an alias of it;
2. drop retired (stale) vendor ranges;       5. drop ranges already authorised with the same result;
3. add the include of a missing platform;    6. flatten includes while over 10 lookups (or always);
                                             7. split a record that is too long into chained records.

Redirect stays a redirect (its target's ``all`` applies, RFC 7208 §6.1), qualifiers, ``exp=``, macro terms
and unknown modifiers are kept, and term order is kept except where a pass says otherwise. Every pass that
must not change any verdict is checked symbolically as it goes; the whole proposal is then proven
(:mod:`spfguard.fix.proof`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from spfguard.audit import LOOKUP_LIMIT, RECORD_BYTES_LIMIT, VOID_LIMIT, Report, audit
from spfguard.dns.base import DnsClient, Status, within
from spfguard.dns.overlay import OverlayDns
from spfguard.errors import PlanError
from spfguard.fix.plan import Change, Difference, Plan
from spfguard.fix.proof import prove
from spfguard.ipset import IPSet, aggregate
from spfguard.policy import decide
from spfguard.rules import ipv6_void_message, void_sources
from spfguard.spf.parser import is_spf_record, parse_domain_spec
from spfguard.spf.terms import Mechanism, Record, Term
from spfguard.spf.txt import decode, join_strings
from spfguard.tree import Node, walk
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.coverage import sender_set

ReadValues = Callable[[str], Awaitable[list[str]]]


@dataclass(frozen=True)
class FixOptions:
    expect: Sequence[str] = ()
    flatten: str = "auto"  # auto | never | always
    keep: Sequence[str] = ()  # include targets or platform names never to flatten
    limit: int = LOOKUP_LIMIT


@dataclass
class _State:
    domain: str
    dns: DnsClient
    terms: list[Term]
    actions: list[str] = field(default_factory=list)
    intended: dict[int, IPSet] = field(default_factory=lambda: {4: IPSet(4), 6: IPSet(6)})
    differences: list[Difference] = field(default_factory=list)
    flattened: set[str] = field(default_factory=set)  # rendered ip terms produced by flattening


def chain_name(domain: str, n: int) -> str:
    return f"_spf{n}.{domain}"


def _is_chain(target: str, domain: str) -> bool:
    return re.fullmatch(rf"_spf\d+\.{re.escape(domain)}", target.lower().rstrip(".")) is not None


def _include(target: str, qualifier: str = "") -> Mechanism:
    return Mechanism("include", qualifier, parse_domain_spec(target))


def _ip_term(network, qualifier: str) -> Mechanism:
    kind = f"ip{network.version}"
    full = network.prefixlen == network.max_prefixlen
    prefix = None if full else network.prefixlen
    return Mechanism(kind, qualifier, None, network.network_address,
                     prefix if kind == "ip4" else None, prefix if kind == "ip6" else None)


def _insert_before_all(terms: list[Term], term: Term) -> None:
    index = next((i for i, t in enumerate(terms) if isinstance(t, Mechanism) and t.kind == "all"), None)
    if index is None:  # no all: before the modifiers
        index = next((i for i, t in enumerate(terms) if not isinstance(t, Mechanism)), len(terms))
    terms.insert(index, term)


async def read_txt_values(dns: DnsClient, name: str) -> list[str]:
    answer = await dns.query(name, "TXT")
    if answer.status is Status.TEMPFAIL:
        raise PlanError(f"cannot read the TXT records of {name}: {answer.error or 'timeout'}")
    return [decode(join_strings(rr)) for rr in answer.records]


async def plan_fix(domain: str, dns: DnsClient, options: FixOptions | None = None,
                   read_values: ReadValues | None = None) -> Plan:
    options = options or FixOptions()
    domain = domain.rstrip(".").lower()
    if read_values is not None:
        dns = await _provider_view(domain, dns, read_values)
    report = await audit(domain, dns, expect=list(options.expect), dmarc=False)
    _check_fixable(report)
    old_tree = report.tree
    state = _State(domain, dns, list(old_tree.parsed.terms))
    infos = _infos(old_tree)

    _drop_unreachable(state)
    _drop_duplicates(state)
    _drop_stale(state, report, infos)
    _add_missing(state, report)
    await _canonical_includes(state, infos)
    current = await _walk(state, {domain: Record(tuple(state.terms)).render()})
    _collect(infos, current)
    _drop_redundant(state, current, infos)
    records = await _reduce_lookups(state, options, infos)
    if state.flattened:  # flattened ranges may duplicate what other terms authorise
        flat = await _walk(state, {domain: Record(tuple(state.terms)).render()})
        _collect(infos, flat)
        _drop_redundant(state, flat, infos)
        records = _split(state)
    new_tree = await _walk(state, records)
    lookups = new_tree.total_lookups
    if lookups > options.limit:
        raise PlanError(f"the proposal still needs {lookups} lookups")
    remaining = _void_verdict(old_tree, new_tree)

    read = read_values or (lambda name: read_txt_values(dns, name))
    changes = await _changes(domain, old_tree, records, read)
    old_policy, new_policy = decide(old_tree), decide(new_tree)
    # every range as written anywhere in either tree, so that each one's boundaries are sampled (not only the
    # boundaries of the aggregated sets)
    extra = [IPSet.of(m.network.version, [m.network]) for tree in (old_tree, new_tree) for node in tree.walk()
             if node.parsed is not None for m in node.parsed.mechanisms if m.network is not None]
    proof = await prove(domain, dns, OverlayDns(dns, {c.name: c.after for c in changes}), old_policy, new_policy,
                        state.intended, extra)
    if not proof.ok:
        verdict = "NOT equivalent"
    elif any(proof.changed.values()):
        verdict = "equivalent except intended differences"
    else:
        verdict = "equivalent"
    _fill_differences(state, old_policy, new_policy)
    return Plan(domain, changes, old_tree.total_lookups, lookups, (new_tree.total_voids4, new_tree.total_voids6),
                state.actions, state.differences, verdict, proof.to_json(), records, remaining)


async def _provider_view(domain: str, dns: DnsClient, read_values: ReadValues) -> DnsClient:
    """DNS as the provider holds the domain's own names (resolvers may still cache older values)."""
    own: dict[str, list[str]] = {}
    for _ in range(8):  # the apex, then the chained records it leads to, level by level
        tree = await walk(domain, OverlayDns(dns, own))
        names = {n.name.lower() for n in tree.walk() if within(n.name, domain)} | {domain}
        missing = names - set(own)
        if not missing:
            break
        for name in sorted(missing):
            own[name] = await read_values(name)
    return OverlayDns(dns, own)


def _check_fixable(report: Report) -> None:
    tree = report.tree
    if report.incomplete:
        problem = next(f.message for f in report.findings if f.code == "temporary-failure")
        raise PlanError(f"could not read the whole SPF tree ({problem}); try again later")
    if tree.status == "no-record":
        raise PlanError(f"{tree.name} has no SPF record to fix; publish one first (e.g. 'v=spf1 -all')")
    if tree.status == "multiple-records":
        raise PlanError(f"{tree.name} publishes {len(tree.candidates)} SPF records; merge them into one by hand")
    if tree.status != "ok":
        raise PlanError(f"{tree.name}: {tree.error}; correct it by hand first")


def _infos(tree: Node) -> dict[str, object]:
    """Term text -> TermInfo for every DNS-querying term seen at the root (any version of it)."""
    return {info.term: info for info in tree.terms}


def _collect(infos: dict, tree: Node) -> None:
    for info in tree.terms:
        infos.setdefault(info.term, info)


def _void_verdict(old: Node, new: Node) -> list[str]:
    """A proposal may leave a void problem exactly as bad as the current record has it (never worse): it is
    still an improvement, and the plan names what remains. A family made worse is refused."""
    remaining = []
    for version, before, after in ((4, old.total_voids4, new.total_voids4), (6, old.total_voids6, new.total_voids6)):
        if after <= VOID_LIMIT:
            continue
        if after > before:
            raise PlanError(f"the proposal would make {after} void lookups for IPv{version} senders where the current "
                            f"record makes {before} (limit {VOID_LIMIT}): {'; '.join(void_sources(new, version))}")
        if version == 4:
            remaining.append(f"IPv4 senders still see {after} void lookups (limit {VOID_LIMIT}), as today: "
                             f"{'; '.join(void_sources(new, 4))}")
        elif new.total_voids4 <= VOID_LIMIT:
            remaining.append(f"still, as today: {ipv6_void_message(new)}")
    return remaining


def _drop_unreachable(state: _State) -> None:
    """RFC 7208 §5.1: mechanisms after ``all`` are never evaluated; removing them changes no verdict."""
    record = Record(tuple(state.terms))
    for mech in record.ignored:
        state.actions.append(f"drop {mech.render()} after {record.all.render()}: never evaluated (RFC 7208 §5.1)")
    state.terms = [t for t in state.terms if not any(t is m for m in record.ignored)]


def _drop_duplicates(state: _State) -> None:
    seen: set[str] = set()
    kept = []
    for term in state.terms:
        key = term.render().lower()
        if key in seen:
            state.actions.append(f"drop duplicate {term.render()}")
            continue
        seen.add(key)
        kept.append(term)
    state.terms = kept


def _drop_stale(state: _State, report: Report, infos: dict) -> None:
    stale = {r.term: r for r in report.ranges if r.status == "stale" and r.where == report.domain}
    kept = []
    for term in state.terms:
        info = stale.get(term.render())
        if info is None:
            kept.append(term)
            continue
        state.actions.append(f"drop {term.render()}: retired {info.owner} range ({info.note})")
        version = term.network.version
        state.intended[version] = state.intended[version] | IPSet.of(version, [term.network])
        state.differences.append(Difference([str(term.network)], term.result, "", f"retired {info.owner} range "
                                            f"{term.render()} removed"))
    state.terms = kept


def _add_missing(state: _State, report: Report) -> None:
    catalogue = load_catalogue()
    for name, cov in report.coverage.items():
        if cov.status not in ("none", "partial"):
            continue
        platform = catalogue.get(name)
        _insert_before_all(state.terms, _include(platform.include))
        state.actions.append(f"add include:{platform.include} ({platform.display} was {cov.status}ly authorised)"
                             if cov.status == "partial" else f"add include:{platform.include} ({platform.display})")
        missing = [ipaddress.ip_network(c) for c in cov.missing]
        for version in (4, 6):
            state.intended[version] = state.intended[version] | IPSet.of(version, missing)
        state.differences.append(Difference(cov.missing, "", "pass", f"authorise {platform.display}"))


async def _canonical_includes(state: _State, infos: dict) -> None:
    """Replace an alias include (e.g. one that only includes spf.protection.outlook.com) by the platform's own
    include when both authorise exactly the same addresses and the alias costs more lookups."""
    catalogue = load_catalogue()
    present = {t.domain.text.lower() for t in state.terms if isinstance(t, Mechanism) and t.kind == "include"}
    for platform in catalogue.platforms.values():
        for index, term in enumerate(state.terms):
            if not (isinstance(term, Mechanism) and term.kind == "include"):
                continue
            target = term.domain.text.lower().rstrip(".")
            info = infos.get(term.render())
            if target not in platform.aliases or platform.include in present or info is None or info.child is None:
                continue
            alias = decide(info.child)
            canonical = await sender_set(platform, state.dns)
            same = alias.passes(4) == canonical.v4 and alias.passes(6) == canonical.v6
            saved = 1 + info.child.total_lookups - canonical.lookups
            if same and not canonical.error and saved > 0:
                state.terms[index] = _include(platform.include, term.qualifier)
                present.add(platform.include)
                state.actions.append(f"use include:{platform.include} instead of {term.render()} (the same "
                                     f"addresses, {saved} lookup{'s' if saved != 1 else ''} fewer)")


def _rebuild(domain: str, terms: list[Term], infos: dict) -> Node | None:
    """A tree for ``terms`` from terms already resolved (no DNS); None if a term has not been walked."""
    record = Record(tuple(terms))
    node = Node(name=domain, record=record.render(), parsed=record)
    for term in record.lookup_terms:
        info = infos.get(term.render())
        if info is None:
            return None
        node.terms.append(info)
    return node


def _same(a: Node, b: Node) -> bool:
    pa, pb = decide(a), decide(b)
    return all(pa.family(v).results == pb.family(v).results for v in (4, 6))


def _drop_redundant(state: _State, current: Node, infos: dict) -> None:
    """Drop ip4/ip6 terms whose removal changes no address's result (exact, symbolic)."""
    for term in list(state.terms):
        if not (isinstance(term, Mechanism) and term.network is not None):
            continue
        trial = [t for t in state.terms if t is not term]
        candidate = _rebuild(state.domain, trial, infos)
        if candidate is not None and _same(candidate, current):
            state.terms = trial
            current = candidate
            if term.render() not in state.flattened:
                state.actions.append(f"drop {term.render()}: already authorised elsewhere with the same result")


async def _walk(state: _State, records: dict[str, str]) -> Node:
    return await walk(state.domain, OverlayDns(state.dns, {name: [text] for name, text in records.items()}))


def _flattenable(term: Term, infos: dict, keep: set[str]) -> Node | None:
    if not (isinstance(term, Mechanism) and term.kind == "include") or term.domain.has_macros:
        return None
    target = term.domain.text.lower().rstrip(".")
    if target in keep:
        return None
    info = infos.get(term.render())
    if info is None or info.child is None or info.child.parsed is None:
        return None
    policy = decide(info.child)
    for v in (4, 6):
        family = policy.family(v)
        if family.conditional is not None or family.get("permerror") or family.get("temperror"):
            return None  # exists, ptr or macros inside, or a broken branch: cannot be replaced by ranges
    return info.child


async def _reduce_lookups(state: _State, options: FixOptions, infos: dict) -> dict[str, str]:
    catalogue = load_catalogue()
    keep = {k.lower().rstrip(".") for k in options.keep}
    keep |= {catalogue.platforms[k].include for k in options.keep if k in catalogue.platforms}
    while True:
        records = _split(state)
        tree = await _walk(state, records)
        _collect(infos, tree)
        lookups = tree.total_lookups
        candidates = [(1 + child.total_lookups, i, term) for i, term in enumerate(state.terms)
                      if options.flatten != "never" and (child := _flattenable(term, infos, keep))]
        if options.flatten == "always" and candidates:
            for _, _, term in sorted(candidates, key=lambda c: -c[1]):
                _flatten(state, term, infos)
            continue
        if lookups <= options.limit or not candidates:
            if lookups > options.limit:
                stuck = [info.term for info in tree.terms]
                raise PlanError(f"{lookups} lookups and nothing left that can be flattened (kept or unflattenable: "
                                f"{', '.join(stuck)}); remove a sender or move it to a subdomain")
            return records
        cost, _, term = max(candidates, key=lambda c: (c[0], -c[1]))
        _flatten(state, term, infos)


def _flatten(state: _State, term: Mechanism, infos: dict) -> None:
    child = infos[term.render()].child
    policy = decide(child)
    nets = policy.passes(4).cidrs() + policy.passes(6).cidrs()
    replacement = [_ip_term(n, term.qualifier) for n in nets]
    index = state.terms.index(term)
    state.terms[index : index + 1] = replacement
    state.flattened |= {t.render() for t in replacement}
    if _is_chain(term.domain.text, state.domain):
        state.actions.append(f"re-flatten {term.render()} ({len(nets)} ranges)")
    else:
        saved = 1 + child.total_lookups
        state.actions.append(f"flatten {term.render()} into {len(nets)} ip4/ip6 range(s) "
                             f"({saved} lookup{'s' if saved != 1 else ''} saved)")


def _split(state: _State) -> dict[str, str]:
    """The record set: the root alone when it fits in RECORD_BYTES_LIMIT, else a chain of included records."""
    root = Record(tuple(state.terms)).render()
    if len(root.encode()) <= RECORD_BYTES_LIMIT:
        return {state.domain: root}
    movable = [t for t in state.terms if isinstance(t, Mechanism) and t.network is not None and t.result == "pass"]
    first = next(i for i, t in enumerate(state.terms) if t in movable)
    rest = [t for t in state.terms if t not in movable]
    # aggregated and sorted, so that re-flattening the chain later gives the very same records (a no-op)
    chunks: list[list[str]] = []
    for text in (_ip_term(n, "").render() for n in aggregate(t.network for t in movable)):
        tail = f" include:{chain_name(state.domain, len(chunks) + 1)} -all"
        if chunks and len(("v=spf1 " + " ".join([*chunks[-1], text]) + tail).encode()) <= RECORD_BYTES_LIMIT:
            chunks[-1].append(text)
        else:
            chunks.append([text])
    records = {}
    for n, chunk in enumerate(chunks, start=1):
        nxt = f" include:{chain_name(state.domain, n + 1)}" if n < len(chunks) else ""
        records[chain_name(state.domain, n)] = "v=spf1 " + " ".join(chunk) + nxt + " -all"
    root_terms = [*rest[:first], _include(chain_name(state.domain, 1)), *rest[first:]]
    records[state.domain] = Record(tuple(root_terms)).render()
    return records


async def _changes(domain: str, old_tree: Node, records: dict[str, str], read: ReadValues) -> list[Change]:
    """Whole TXT sets per name: the SPF value replaced, other values (verification tokens) kept."""
    old_chain = {n.name.lower() for n in old_tree.walk() if _is_chain(n.name, domain)}
    names = sorted(set(records) | old_chain, key=lambda n: (n == domain, n))
    creates, apex, deletes = [], [], []
    for name in names:
        before = await read(name)
        after = [v for v in before if not is_spf_record(v)]
        if name in records:  # in the place of the current SPF value, if any
            spf_at = next((i for i, v in enumerate(before) if is_spf_record(v)), len(after))
            after.insert(min(spf_at, len(after)), records[name])
        if sorted(before) == sorted(after):
            continue
        change = Change(name, tuple(before), tuple(after))
        (apex if name == domain else deletes if name not in records else creates).append(change)
    creates.sort(key=lambda c: c.name, reverse=True)  # the deepest chained record first
    return creates + apex + deletes


def _fill_differences(state: _State, old, new) -> None:
    for diff in state.differences:
        if not diff.after:  # a removed range: what those addresses get now
            net = ipaddress.ip_network(diff.cidrs[0])
            diff.after = new.family(net.version).result_of(net.network_address)
        if not diff.before:
            nets = [ipaddress.ip_network(c) for c in diff.cidrs]
            diff.before = "/".join(sorted({old.family(n.version).result_of(n.network_address) for n in nets}))
