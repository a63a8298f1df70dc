"""A reviewed plan (``fix --plan-out`` → ``fix --from-plan``) is the reviewer's evidence, not an authority: what
the file says of itself — its verdict, its proof, its intended differences — could have been written by anyone
who could edit it. So before it is applied it is checked again, from the file's changes alone:

* it changes only the domain's SPF record set — the domain and its chained records ``_spfN.DOMAIN`` — and at
  each name only the SPF value (verification tokens and other TXT values stay as they are);
* the proof is run again on current DNS, the plan's ``before`` against its ``after`` (symbolically and by
  sampling ``check_host()``, as for a fresh plan), and *that* verdict is shown and decides; the differences are
  worked out again, with the plan's own words beside them;
* the proposal may not bring an error the current record set does not have (``+all``, a loop, more than 10
  lookups).

The checksum binds the file to what was reviewed when the reviewer passes it (``--checksum sha256:…``): an edited
file is then refused even with a recomputed checksum.
"""

from __future__ import annotations

import ipaddress

from spfguard.dns.base import DnsClient, within
from spfguard.dns.overlay import OverlayDns
from spfguard.errors import IncompleteError, PlanError, UserError
from spfguard.fix.chain import is_chain
from spfguard.fix.plan import Difference, Plan, Verdict
from spfguard.fix.planner import kept_limits, written_ranges
from spfguard.fix.proof import prove
from spfguard.ipset import IPSet
from spfguard.policy import decide
from spfguard.rules import tree_findings
from spfguard.spf.limits import LOOKUP_LIMIT
from spfguard.spf.parser import is_spf_record
from spfguard.tree import NodeStatus, walk_tree

MAX_DIFFERENCES = 50


def check_checksum(plan: Plan, expected: str | None, where: str) -> None:
    """``--checksum`` from the reviewer: the plan's changes must be the very ones reviewed."""
    if expected is None:
        return
    if expected.strip().lower() != plan.checksum:
        raise UserError(f"{where}: its changes are not the reviewed ones (checksum {plan.checksum}, the review saw "
                        f"{expected.strip()}): refusing it")


def check_scope(plan: Plan) -> None:
    """Only the domain's SPF record set changes, and at each name only its SPF value."""
    for change in plan.changes:
        if change.name != plan.domain and not is_chain(change.name, plan.domain):
            kind = "a name below the domain" if within(change.name, plan.domain) else "a name outside the domain"
            raise PlanError(f"the plan changes {change.name}, {kind} that is not part of the SPF record set of "
                            f"{plan.domain} (the domain and its _spfN chained records): refusing it")
        others_before = sorted(v for v in change.before if not is_spf_record(v))
        others_after = sorted(v for v in change.after if not is_spf_record(v))
        if others_before != others_after:
            raise PlanError(f"the plan changes a TXT value at {change.name} that is not an SPF record: refusing it")
        if sum(is_spf_record(v) for v in change.after) > 1:
            raise PlanError(f"the plan leaves {change.name} with several SPF records (a permerror): refusing it")


async def reprove(plan: Plan, dns: DnsClient) -> Plan:
    """The plan proven again on current DNS: its changes, with the verdict, proof, lookups and differences worked
    out here (the file's own are not trusted)."""
    check_scope(plan)
    old_view = OverlayDns(dns, {c.name: list(c.before) for c in plan.changes})
    new_view = OverlayDns(dns, {c.name: list(c.after) for c in plan.changes})
    old_tree, new_tree = await walk_tree(plan.domain, old_view), await walk_tree(plan.domain, new_view)
    for tree in (old_tree, new_tree):
        failed = next((n for n in tree.walk() if n.status == NodeStatus.TEMPERROR or any(t.error for t in n.terms)),
                      None)
        if failed is not None:
            raise IncompleteError(f"cannot prove the plan again: {failed.error or 'a DNS lookup failed'} (nothing "
                                  "was written; try again, or give --zone/--nameserver)")
    old_policy, new_policy = decide(old_tree), decide(new_tree)
    claimed = {v: IPSet.of(v, [c for d in plan.intended for c in d.cidrs if c != "…"]) for v in (4, 6)}
    proof = await prove(plan.domain, old_view, new_view, old_policy, new_policy, claimed,
                        written_ranges(old_tree, new_tree), kept_limits(old_tree))
    problems = [f"error {f.code}: {f.message} — the current record set does not have it" for f in tree_findings(
        new_tree) if f.severity == "error" and f.code not in {g.code for g in tree_findings(old_tree)}]
    if new_tree.total_lookups > LOOKUP_LIMIT:
        problems.append(f"error too-many-lookups: the proposal needs {new_tree.total_lookups} lookups")
    changed = any(proof.changed.values())
    if problems or not proof.ok:
        verdict = Verdict.NOT_EQUIVALENT
    else:
        verdict = Verdict.EQUIVALENT_EXCEPT_INTENDED if changed else Verdict.EQUIVALENT
    differences = []
    for version in (4, 6):
        for network in proof.changed[version].cidrs()[:MAX_DIFFERENCES]:
            address = network.network_address
            said = next((d.why for d in plan.intended for c in d.cidrs if c != "…"
                         and ipaddress.ip_network(c, strict=False).overlaps(network)), None)
            differences.append(Difference([str(network)], old_policy.family(version).result_of(address),
                                          new_policy.family(version).result_of(address),
                                          f"the plan says: {said}" if said else "NOT listed by the plan"))
    return Plan(plan.domain, plan.changes, old_tree.total_lookups, new_tree.total_lookups,
                (new_tree.total_voids4, new_tree.total_voids6), [f"(as written in the plan) {a}" for a in plan.actions],
                differences, verdict, proof.to_json(),
                {n.name: n.record for n in new_tree.walk() if n.record is not None and within(n.name, plan.domain)},
                [], problems, plan.flattened, plan.expect)
