"""Plan a corrected SPF record set for a domain, as ordered passes over the root record's terms
(:mod:`spfguard.fix.passes`):

1. merge two SPF records into one;           6. use a platform's own include instead of an alias of it;
2. drop terms after ``all``;                 7. drop ranges already authorised with the same result;
3. drop duplicate terms;                     8. ``--pin``: a/mx terms replaced by their current addresses;
4. drop retired (stale) vendor ranges;       9. ``--all``: the qualifier of ``all``, as the user states it;
5. add the include of a missing platform;   10. flatten includes while over 10 lookups (or always);
                                            11. split a record that is too long into chained records.

Every name the plan touches is read once (:mod:`spfguard.fix.readset`): the proposal, the proof and the
compare-and-set come from the same values. Redirect stays a redirect (its target's ``all`` applies, RFC 7208
§6.1), qualifiers, ``exp=``, macro terms and unknown modifiers are kept. The whole proposal is then proven
(:mod:`spfguard.fix.proof`); a proposal worse than the current record in any family or on any address is
refused, one that leaves a problem exactly as it was is shown with the problem named.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from spfguard.audit import LOOKUP_LIMIT, MX_LIMIT, VOID_LIMIT, Report, audit
from spfguard.dns.base import DnsClient
from spfguard.dns.overlay import OverlayDns
from spfguard.errors import IncompleteError, PlanError
from spfguard.fix import passes
from spfguard.fix.chain import is_chain, split
from spfguard.fix.merge import merge_records
from spfguard.fix.plan import Change, Plan, Verdict
from spfguard.fix.proof import prove
from spfguard.fix.readset import ReadSet, ReadValues, read_txt_values
from spfguard.ipset import IPSet
from spfguard.policy import decide
from spfguard.rules import ipv6_void_message, tree_findings, void_sources
from spfguard.spf.evaluator import Limits
from spfguard.spf.parser import is_spf_record
from spfguard.spf.terms import Mechanism, Record
from spfguard.tree import Node
from spfguard.vendors.catalogue import load_catalogue

__all__ = ["FixOptions", "PlanError", "plan_fix", "read_txt_values"]


@dataclass(frozen=True)
class FixOptions:
    expect: Sequence[str] = ()
    flatten: str = "auto"  # auto | never | always
    keep: Sequence[str] = ()  # include targets or platform names never to flatten
    limit: int = LOOKUP_LIMIT
    pin: Sequence[str] = ()  # a/mx terms of the record to replace by their current addresses
    all: str | None = None  # "softfail" | "fail": what unlisted senders get, as the user states it
    reflatten: dict | None = None  # include -> ranges flattened from it earlier (monitor --auto-fix)


async def plan_fix(domain: str, dns: DnsClient, options: FixOptions | None = None,
                   read_values: ReadValues | None = None) -> Plan:
    options = options or FixOptions()
    domain = domain.rstrip(".").lower()
    snapshot = ReadSet(dns, read_values)
    view = await snapshot.view(domain)
    report = await audit(domain, view, expect=list(options.expect), dmarc=False)
    merge = None
    if report.tree.status == "multiple-records" and not report.incomplete:
        merge = await merge_records(domain, view, report.tree.candidates)
        merged_values = [v for v in await snapshot.get(domain) if not is_spf_record(v)] + [merge[0]]
        view = OverlayDns(view, {domain: merged_values})
        report = await audit(domain, view, expect=list(options.expect), dmarc=False)
    old_tree = report.tree
    state = passes.State(domain, view, list(_check_fixable(report).terms))
    state.collect(old_tree)
    if merge is not None:
        state.actions += merge[1]
        state.differences += merge[2]

    passes.drop_unreachable(state)
    passes.drop_duplicates(state)
    passes.drop_stale(state, report.ranges)
    passes.add_missing(state, report.coverage)
    await passes.canonical_includes(state)
    if options.reflatten:
        await _reflatten(state, options.reflatten)
    current = await state.walk({domain: state.record.render()})
    passes.drop_redundant(state, current)
    if options.pin:
        passes.pin(state, list(options.pin))
    if options.all:
        passes.set_all(state, options.all)
    records, split_actions = await _reduce_lookups(state, options)
    if state.flattenings:  # flattened ranges may duplicate what other terms authorise
        flat = await state.walk({domain: state.record.render()})
        passes.drop_redundant(state, flat, flattened={t.render() for t in state.terms})
        records, split_actions = split(domain, state.terms, state.infos)
    passes.finish_flattenings(state, state.terms)
    state.actions += split_actions
    new_tree = await state.walk(records)
    lookups = new_tree.total_lookups
    if lookups > options.limit:
        raise PlanError(f"the proposal still needs {lookups} lookups")
    remaining = _void_verdict(old_tree, new_tree, state)

    changes = await _changes(domain, old_tree, records, snapshot)
    if changes and not state.actions:  # the record text changes (normalised case, spacing): say so
        state.actions.append("rewrite the record in canonical form (the same terms)")
    old_policy, new_policy = decide(old_tree), decide(new_tree)
    proof = await prove(domain, view, OverlayDns(dns, {**snapshot.values, **{c.name: c.after for c in changes}}),
                        old_policy, new_policy, state.intended, written_ranges(old_tree, new_tree),
                        kept_limits(old_tree))
    proof_json = proof.to_json()
    ok = proof.ok
    if merge is not None:
        proof_json["merge"] = merge[4]
        ok = ok and not merge[4]["unintended_sample_differences"] and not merge[4]["unintended_ranges"]
    if not changes:
        verdict = Verdict.EQUIVALENT  # nothing is written: the published record set is the proposal
    elif not ok:
        verdict = Verdict.NOT_EQUIVALENT
    elif any(proof.changed.values()) or merge is not None:
        verdict = Verdict.EQUIVALENT_EXCEPT_INTENDED
    else:
        verdict = Verdict.EQUIVALENT
    _fill_differences(state, old_policy, new_policy)
    return Plan(domain, changes, old_tree.total_lookups, lookups, (new_tree.total_voids4, new_tree.total_voids6),
                state.actions, state.differences, verdict, proof_json, records, remaining,
                _unfixed(new_tree, options), state.flattenings, list(options.expect))


def written_ranges(*trees: Node) -> list[IPSet]:
    """Every ip4/ip6 range as written anywhere in the trees, so that the proof samples each one's boundaries (not
    only those of the aggregated sets)."""
    return [IPSet.of(m.network.version, [m.network]) for tree in trees for node in tree.walk()
            if node.parsed is not None for m in node.parsed.mechanisms if m.network is not None]


def kept_limits(old: Node) -> dict[int, Limits]:
    """The limits a proposal is held to, per family: RFC 7208's, raised only to what the current record already
    needs (void lookups of that family; more than 10 MX records) — the proposal may keep those, not worsen them."""
    mx = None if any(i.mx_hosts > MX_LIMIT for n in old.walk() for i in n.terms) else MX_LIMIT
    return {4: Limits(voids=max(VOID_LIMIT, old.total_voids4), mx_records=mx),
            6: Limits(voids=max(VOID_LIMIT, old.total_voids6), mx_records=mx)}


def _check_fixable(report: Report) -> Record:
    """The record to fix, or PlanError saying why there is none."""
    tree = report.tree
    if report.incomplete:
        problem = next(f.message for f in report.findings if f.code == "temporary-failure")
        raise IncompleteError(f"could not read the whole SPF tree ({problem}); try again later")
    if tree.status == "no-record":
        raise PlanError(f"{tree.name} has no SPF record to fix; publish one first (e.g. 'v=spf1 -all')")
    if tree.status != "ok" or tree.parsed is None:
        raise PlanError(f"{tree.name}: {tree.error}; correct it by hand first")
    return tree.parsed


async def _reflatten(state: passes.State, sources: dict[str, list[str]]) -> None:
    """Inline the domain's chained records, then put each flattened source back as an include (to be flattened
    again); the ranges it gained or lost since are intended differences."""
    for term in list(state.terms):
        if passes.flattenable(term, state, set()) is not None and isinstance(term, Mechanism) and \
                is_chain(term.target or "", state.domain):
            passes.flatten(state, term)
    passes.reflatten(state, sources)
    await state.walk({state.domain: state.record.render()})
    for source, old in sources.items():
        found = next((t for t in state.terms if isinstance(t, Mechanism) and t.kind == "include"
                      and t.target == source), None)
        child = passes.flattenable(found, state, set())
        if found is None or child is None:
            raise PlanError(f"include:{source} cannot be flattened again (its tree is incomplete or has macros)")
        policy = decide(child)
        for version in (4, 6):
            before = IPSet.of(version, old)
            now = policy.passes(version)
            state.intended[version] = state.intended[version] | (before - now) | (now - before)
        passes.flatten(state, found)  # with its current ranges


async def _reduce_lookups(state: passes.State, options: FixOptions) -> tuple[dict[str, str], list[str]]:
    catalogue = load_catalogue()
    keep = {k.lower().rstrip(".") for k in options.keep}
    keep |= {catalogue.platforms[k].include for k in options.keep if k in catalogue.platforms}
    while True:
        records, actions = split(state.domain, state.terms, state.infos)
        tree = await state.walk(records)
        lookups = tree.total_lookups
        candidates = [(1 + child.total_lookups, i, term) for i, term in enumerate(state.terms)
                      if options.flatten != "never" and (child := passes.flattenable(term, state, keep))]
        if options.flatten == "always" and candidates:
            for _, _, term in sorted(candidates, key=lambda c: -c[1]):
                passes.flatten(state, term)
            continue
        if lookups <= options.limit or not candidates:
            if lookups > options.limit:
                stuck = [info.term for info in tree.terms]
                raise PlanError(f"{lookups} lookups and nothing left that can be flattened (kept or unflattenable: "
                                f"{', '.join(stuck)}); remove a sender or move it to a subdomain")
            return records, actions
        cost, _, term = max(candidates, key=lambda c: (c[0], -c[1]))
        passes.flatten(state, term)


def _void_verdict(old: Node, new: Node, state: passes.State) -> list[str]:
    """A proposal may leave a void problem exactly as bad as the current record has it (never worse): it is
    still an improvement, and the plan names what remains and how to remove it. A family made worse is
    refused."""
    remaining = []
    for version, before, after in ((4, old.total_voids4, new.total_voids4), (6, old.total_voids6, new.total_voids6)):
        if after <= VOID_LIMIT:
            continue
        if after > before:
            raise PlanError(f"the proposal would make {after} void lookups for IPv{version} senders where the current "
                            f"record makes {before} (limit {VOID_LIMIT}): {'; '.join(void_sources(new, version))}")
        pinnable = [i.term for i in new.terms if (i.voids4 if version == 4 else i.voids6) and not i.macro
                    and i.term.lstrip("+-~?").split(":")[0].split("/")[0] in ("a", "mx")]
        offer = f" To remove it here: {' '.join('--pin ' + t for t in pinnable)} (pinned terms stop following " \
                "their hosts)." if pinnable else ""
        if version == 4:
            remaining.append(f"IPv4 senders still see {after} void lookups (limit {VOID_LIMIT}), as today: "
                             f"{'; '.join(void_sources(new, 4))}.{offer}")
        elif new.total_voids4 <= VOID_LIMIT:
            remaining.append(f"still, as today: {ipv6_void_message(new)}.{offer}")
    return remaining


# how to get past an error finding that the passes leave alone
_WAY_OUT = {
    "permissive-all": "say what unlisted senders should get with --all softfail or --all fail",
    "include-no-record": "remove the include, or ask its owner to publish a record",
    "loop": "remove the include that leads back",
    "syntax-error": "the broken record is not this domain's: ask its owner, or remove the include",
    "multiple-records": "an included domain publishes several records: ask its owner",
    "mx-too-many-hosts": "list the mail servers' addresses instead of the mx term (--pin)",
    "too-many-void-lookups": "give the hosts addresses, or --pin the a/mx terms",
    "too-many-lookups": "flatten more (--flatten always) or remove a sender",
}


def _unfixed(tree: Node, options: FixOptions) -> list[str]:
    """Error findings of the proposed record set: never "nothing to change" while these remain."""
    out = []
    for finding in tree_findings(tree):
        # errors, and every over-permissive term even when only a warning (?all, a /8): explained, not silent
        if finding.code == "temporary-failure" or (finding.severity != "error" and finding.code != "permissive-all"):
            continue
        way = _WAY_OUT.get(finding.code, "correct it by hand")
        out.append(f"{finding.severity} {finding.code}: {finding.message} — {way}")
    return list(dict.fromkeys(out))


async def _changes(domain: str, old_tree: Node, records: dict[str, str], snapshot: ReadSet) -> list[Change]:
    """Whole TXT sets per name, from the snapshot: the SPF value replaced, other values (verification tokens)
    kept. A name that holds several SPF values (the merge) gets one."""
    old_chain = {n.name.lower() for n in old_tree.walk() if is_chain(n.name, domain)}
    names = sorted(set(records) | old_chain, key=lambda n: (n == domain, n))
    creates: list[Change] = []
    apex: list[Change] = []
    deletes: list[Change] = []
    for name in names:
        before = list(await snapshot.get(name))
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


def _fill_differences(state: passes.State, old, new) -> None:
    for diff in state.differences:
        if not diff.cidrs or not _is_network(diff.cidrs[0]):
            continue
        if not diff.after:  # a removed range: what those addresses get now
            net = ipaddress.ip_network(diff.cidrs[0])
            diff.after = new.family(net.version).result_of(net.network_address)
        if not diff.before:
            nets = [ipaddress.ip_network(c) for c in diff.cidrs if _is_network(c)]
            diff.before = "/".join(sorted({old.family(n.version).result_of(n.network_address) for n in nets}))


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
        return True
    except ValueError:
        return False

