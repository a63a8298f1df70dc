"""The passes of ``fix`` over the root record's terms. Each pass edits the term list and says what it did (an
action); passes that must change no verdict are checked symbolically as they go, and every intended change of a
verdict is recorded so that the proof can tell it from an unintended one."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from spfguard.dns.base import DnsClient
from spfguard.dns.overlay import OverlayDns
from spfguard.errors import PlanError
from spfguard.fix.chain import include, ip_term, is_chain
from spfguard.fix.plan import Difference, Flattening
from spfguard.ipset import IPSet, aggregate
from spfguard.policy import decide, universe
from spfguard.spf.limits import LOOKUP_LIMIT, MX_LIMIT, VOID_LIMIT
from spfguard.spf.terms import QUALIFIER_RESULTS, Mechanism, Record, Term
from spfguard.tree import Node, TermInfo, walk_tree
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.coverage import sender_set

ALL_QUALIFIERS = {"softfail": "~", "fail": "-"}


@dataclass
class State:
    domain: str
    dns: DnsClient
    terms: list[Term]
    infos: dict[str, TermInfo] = field(default_factory=dict)  # term text -> what it resolved to
    actions: list[str] = field(default_factory=list)
    intended: dict[int, IPSet] = field(default_factory=lambda: {4: IPSet(4), 6: IPSet(6)})
    differences: list[Difference] = field(default_factory=list)
    flattenings: list[Flattening] = field(default_factory=list)

    @property
    def record(self) -> Record:
        return Record(tuple(self.terms))

    def intend(self, networks) -> None:
        for version in (4, 6):
            self.intended[version] = self.intended[version] | IPSet.of(version, networks)

    def collect(self, tree: Node) -> None:
        for info in tree.terms:
            self.infos.setdefault(info.term, info)

    async def walk(self, records: dict[str, str]) -> Node:
        tree = await walk_tree(self.domain, OverlayDns(self.dns, {name: [text] for name, text in records.items()}))
        self.collect(tree)
        return tree


def insert_before_all(terms: list[Term], term: Term) -> None:
    index = next((i for i, t in enumerate(terms) if isinstance(t, Mechanism) and t.kind == "all"), None)
    if index is None:  # no all: before the modifiers
        index = next((i for i, t in enumerate(terms) if not isinstance(t, Mechanism)), len(terms))
    terms.insert(index, term)


def drop_unreachable(state: State) -> None:
    """RFC 7208 §5.1: mechanisms after ``all`` are never evaluated; removing them changes no verdict."""
    record = state.record
    if record.all is None:
        return
    for mech in record.ignored:
        state.actions.append(f"drop {mech.render()} after {record.all.render()}: never evaluated (RFC 7208 §5.1)")
    state.terms = [t for t in state.terms if not any(t is m for m in record.ignored)]


def drop_duplicates(state: State) -> None:
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


def drop_stale(state: State, ranges) -> None:
    stale = {r.term: r for r in ranges if r.status == "stale" and r.where == state.domain}
    kept = []
    for term in state.terms:
        info = stale.get(term.render())
        if info is None or not isinstance(term, Mechanism):
            kept.append(term)
            continue
        state.actions.append(f"drop {term.render()}: retired {info.owner} range ({info.note})")
        state.intend([term.network])
        state.differences.append(Difference([str(term.network)], term.result, "", f"retired {info.owner} range "
                                            f"{term.render()} removed"))
    state.terms = kept


def add_missing(state: State, coverage) -> None:
    catalogue = load_catalogue()
    for name, cov in coverage.items():
        if cov.status not in ("none", "partial"):
            continue
        platform = catalogue.get(name)
        if platform.kind != "name":  # its include is per customer (a pattern) or per message (a macro)
            raise PlanError(f"{platform.display} ({name}) is not authorised, and its include is "
                            f"{'a macro template' if platform.kind == 'template' else 'one per account'} "
                            f"({platform.include}): add the include its console gives you by hand")
        insert_before_all(state.terms, include(platform.include))
        state.actions.append(f"add include:{platform.include} ({platform.display} was {cov.status}ly authorised)"
                             if cov.status == "partial" else f"add include:{platform.include} ({platform.display})")
        state.intend([ipaddress.ip_network(c) for c in cov.missing])
        state.differences.append(Difference(cov.missing, "", "pass", f"authorise {platform.display}"))


async def canonical_includes(state: State) -> None:
    """Replace an alias include (e.g. one that only includes spf.protection.outlook.com) by the platform's own
    include when both authorise exactly the same addresses and the alias costs more lookups."""
    catalogue = load_catalogue()
    present = {t.target for t in state.terms if isinstance(t, Mechanism) and t.kind == "include"}
    for platform in catalogue.platforms.values():
        for index, term in enumerate(state.terms):
            if not (isinstance(term, Mechanism) and term.kind == "include"):
                continue
            target = term.target
            info = state.infos.get(term.render())
            if target not in platform.aliases or platform.include in present or info is None or info.child is None:
                continue
            alias = decide(info.child)
            canonical = await sender_set(platform, state.dns)
            same = alias.passes(4) == canonical.v4 and alias.passes(6) == canonical.v6
            saved = 1 + info.child.total_lookups - canonical.lookups
            if same and not canonical.error and saved > 0:
                state.terms[index] = include(platform.include, term.qualifier)
                present.add(platform.include)
                state.actions.append(f"use include:{platform.include} instead of {term.render()} (the same "
                                     f"addresses, {saved} lookup{'s' if saved != 1 else ''} fewer)")


def pin(state: State, wanted: list[str]) -> None:
    """``--pin TERM``: an a/mx term of the record replaced by the addresses it resolves to now (its CIDR lengths
    kept). It no longer costs a lookup or a void lookup — and no longer follows the host: the user asks for it."""
    for text in wanted:
        index = next((i for i, t in enumerate(state.terms) if isinstance(t, Mechanism) and t.kind in ("a", "mx")
                      and t.render().lower() == text.lower()), None)
        if index is None:
            known = [t.render() for t in state.terms if isinstance(t, Mechanism) and t.kind in ("a", "mx")]
            raise PlanError(f"--pin {text}: no such a/mx term in the record of {state.domain} (its a/mx terms: "
                            f"{', '.join(known) or 'none'})")
        term = state.terms[index]
        info = state.infos.get(term.render())
        if not isinstance(term, Mechanism) or info is None or info.macro or info.error:
            raise PlanError(f"--pin {text}: its addresses could not be resolved")
        networks = []
        for addresses, prefix, width in ((info.addresses4, term.cidr4, 32), (info.addresses6, term.cidr6, 128)):
            networks += [ipaddress.ip_network(f"{a}/{width if prefix is None else prefix}", strict=False)
                         for a in addresses]
        replacement = [ip_term(n, term.qualifier) for n in aggregate(networks)]
        state.terms[index:index + 1] = replacement
        state.actions.append(f"pin {term.render()} to its {len(replacement)} current address range(s) "
                             f"({', '.join(r.render() for r in replacement) or 'none'}): it no longer follows the "
                             "host — pin it again when its addresses change")


def set_all(state: State, wanted: str) -> None:
    """``--all softfail|fail``: the user states what unlisted senders get; the record's ``all`` gets that qualifier
    (or, with no all and no redirect, one is added). The addresses it decides change on purpose."""
    qualifier = ALL_QUALIFIERS[wanted]
    record = state.record
    current = record.all
    if current is None and record.redirect is not None:
        raise PlanError("--all: the record has no all of its own (its redirect= decides what unlisted senders get); "
                        "change the redirect target, or add an all by hand")
    if current is not None and QUALIFIER_RESULTS[current.qualifier] == QUALIFIER_RESULTS[qualifier]:
        return
    old_result = QUALIFIER_RESULTS[current.qualifier] if current is not None else "neutral"
    new = Mechanism("all", qualifier)
    if current is None:
        state.terms.append(new)
        state.actions.append(f"add {new.render()}: unlisted senders get {wanted} (they got neutral)")
    else:
        state.terms[next(i for i, t in enumerate(state.terms) if t is current)] = new
        state.actions.append(f"replace {current.render()} by {new.render()}: unlisted senders get {wanted} "
                             f"(they got {old_result})")
    remainder = _undecided_at_all(state)
    for version in (4, 6):
        state.intended[version] = state.intended[version] | remainder[version]
    cidrs = [str(n) for v in (4, 6) for n in remainder[v].cidrs()]
    state.differences.append(Difference(cidrs[:1] + (["…"] if len(cidrs) > 1 else []), old_result, wanted,
                                        "unlisted senders (the all term, as asked with --all)"))


def _undecided_at_all(state: State) -> dict[int, IPSet]:
    """The addresses no term before ``all`` decides: those the all term decides."""
    terms = [t for t in state.terms if not (isinstance(t, Mechanism) and t.kind == "all")]
    node = rebuild(state.domain, [t for t in terms if not (not isinstance(t, Mechanism) and t.name == "redirect")],
                   state.infos)
    if node is None:
        return {4: universe(4), 6: universe(6)}
    policy = decide(node)
    out = {}
    for version in (4, 6):
        decided = IPSet(version)
        for result, addresses in policy.family(version).results.items():
            if result != "neutral":
                decided = decided | addresses
        out[version] = universe(version) - decided
    return out


def rebuild(domain: str, terms: list[Term], infos: dict) -> Node | None:
    """A tree for ``terms`` from terms already resolved (no DNS); None if a term has not been walked."""
    record = Record(tuple(terms))
    node = Node(name=domain, record=record.render(), parsed=record)
    for term in record.lookup_terms:
        info = infos.get(term.render())
        if info is None:
            return None
        node.terms.append(info)
    return node


def same_policy(a: Node, b: Node) -> bool:
    pa, pb = decide(a), decide(b)
    return all(pa.family(v).results == pb.family(v).results for v in (4, 6))


def drop_redundant(state: State, current: Node, flattened: frozenset[str] | set[str] = frozenset()) -> None:
    """Drop ip4/ip6 terms whose removal changes no address's result (exact, symbolic) — and, where the record
    goes past a limit for that family, only when the addresses still match before the first term that could
    take them past it (RFC 7208 §4.6.4 per address: a sender that matches before the void-prone terms today must
    not be sent through them). Not under ``+all``: there every range is "redundant", yet the ranges are the
    owner's list of senders, needed once ``all`` is fixed."""
    if state.record.all is not None and state.record.all.result == "pass":
        return
    for term in list(state.terms):
        if not (isinstance(term, Mechanism) and term.network is not None):
            continue
        trial = [t for t in state.terms if t is not term]
        candidate = rebuild(state.domain, trial, state.infos)
        if candidate is not None and same_policy(candidate, current) and \
                matched_within_limits(candidate, term.network, term.result):
            state.terms = trial
            current = candidate
            if term.render() not in flattened:
                state.actions.append(f"drop {term.render()}: already authorised elsewhere with the same result")


def over_limits(tree: Node, version: int) -> bool:
    """The worst case of ``tree`` goes past a limit of RFC 7208 §4.6.4 for clients of that family."""
    voids = tree.total_voids4 if version == 4 else tree.total_voids6
    return voids > VOID_LIMIT or tree.total_lookups > LOOKUP_LIMIT or \
        any(info.mx_hosts > MX_LIMIT for node in tree.walk() for info in node.terms)


def matched_within_limits(tree: Node, network, result: str) -> bool:
    """Every address of ``network`` gets ``result`` from ip4/ip6 terms of the root record before evaluation
    reaches a term that could take it past a limit — or the record never goes past one for that family."""
    version = network.version
    if not over_limits(tree, version):
        return True
    infos = {info.term: info for info in tree.terms}
    covered, lookups = IPSet(version), 0
    for mech in tree.parsed.reachable if tree.parsed is not None else ():
        if mech.network is not None:
            if mech.network.version == version and mech.result == result:
                covered = covered | IPSet.of(version, [mech.network])
            continue
        info = infos.get(mech.render())
        if info is None:
            continue
        child = info.child
        lookups += info.lookups + (child.total_lookups if child is not None else 0)
        voids = (info.voids4 if version == 4 else info.voids6) + \
            ((child.total_voids4 if version == 4 else child.total_voids6) if child is not None else 0)
        if voids or lookups > LOOKUP_LIMIT or info.mx_hosts > MX_LIMIT or (child is not None and over_limits(child,
                                                                                                            version)):
            break
    return IPSet.of(version, [network]).issubset(covered)


def flattenable(term: Term | None, state: State, keep: set[str]) -> Node | None:
    if not (isinstance(term, Mechanism) and term.kind == "include") or term.domain is None or term.domain.has_macros:
        return None
    target = term.target
    if target in keep:
        return None
    info = state.infos.get(term.render())
    if info is None or info.child is None or info.child.parsed is None:
        return None
    policy = decide(info.child)
    for v in (4, 6):
        family = policy.family(v)
        if family.conditional is not None or family.get("permerror") or family.get("temperror"):
            return None  # exists, ptr or macros inside, or a broken branch: cannot be replaced by ranges
    return info.child


def flatten(state: State, term: Term) -> None:
    child = state.infos[term.render()].child
    if not isinstance(term, Mechanism) or term.target is None or child is None:
        raise PlanError(f"{term.render()} cannot be flattened")
    policy = decide(child)
    nets = policy.passes(4).cidrs() + policy.passes(6).cidrs()
    replacement = [ip_term(n, term.qualifier) for n in nets]
    index = next(i for i, t in enumerate(state.terms) if t is term)
    state.terms[index : index + 1] = replacement
    target = term.target
    if is_chain(target, state.domain):
        # the ranges of a chained record are themselves flattened from includes named in the provenance
        state.actions.append(f"re-flatten {term.render()}")
        return
    saved = 1 + child.total_lookups
    state.flattenings.append(Flattening(target, [str(n) for n in nets], len(state.actions), saved))
    state.actions.append(f"flatten {term.render()}")  # the range count is filled in once the record is final


def reflatten(state: State, sources: dict[str, list[str]]) -> None:
    """``sources``: include -> the ranges flattened from it earlier (provenance). Those ranges are taken out and the
    include put back where the first of them was, to be flattened again with its current ranges: ranges the
    vendor dropped go, ranges it added come (the differences are intended)."""
    for source, old in sources.items():
        old_nets = {ipaddress.ip_network(c) for c in old}
        positions = [i for i, t in enumerate(state.terms) if isinstance(t, Mechanism) and t.network in old_nets]
        if not positions:
            continue
        first = state.terms[positions[0]]
        qualifier = first.qualifier if isinstance(first, Mechanism) else ""
        state.terms = [t for i, t in enumerate(state.terms) if i not in positions]
        state.terms.insert(positions[0], include(source, qualifier))
        state.actions.append(f"take out the {len(positions)} range(s) flattened from {source} earlier, to flatten it "
                             "again with its current ranges")


def finish_flattenings(state: State, final_terms: list[Term]) -> None:
    """Count, per flattened include, the ranges that end up published (some may be dropped as redundant or
    aggregated), and say so in its action."""
    published = [t.network for t in final_terms if isinstance(t, Mechanism) and t.network is not None]
    for flat in state.flattenings:
        sets = {v: IPSet.of(v, flat.ranges) for v in (4, 6)}
        kept = [n for n in published if sets[n.version] & IPSet.of(n.version, [n])]
        flat.published = len(kept)
        saved = f"{flat.lookups_saved} lookup{'s' if flat.lookups_saved != 1 else ''} saved"
        state.actions[flat.action] = (
            f"flatten include:{flat.include} into {len(kept)} published ip4/ip6 range(s) ({saved})" if kept else
            f"drop include:{flat.include}: everything it authorises is authorised by other terms ({saved})")
