"""A plan as text: the actions, what remains, the diff, the intended differences and the proof."""

from __future__ import annotations

from spfguard.fix.plan import Plan
from spfguard.report.escape import safe_lines


def plan_text(plan: Plan, *, dry_run: bool) -> str:
    if plan.empty and not plan.problems:
        return f"{plan.domain}: nothing to change — the published record set is already what spfguard proposes " \
               f"({plan.lookups_before}/10 lookups)."
    if plan.empty:
        lines = [f"{plan.domain}: no automatic change — but the record has problems spfguard does not change on its "
                 "own:"]
        lines += [f"  ! {problem}" for problem in plan.problems]
        return safe_lines("\n".join(lines))
    lines = [f"{plan.domain}: plan{' (dry run: nothing is written)' if dry_run else ''}",
             f"  lookups {plan.lookups_before} → {plan.lookups_after} · void lookups after: {plan.voids_after[0]} "
             f"(IPv6 {plan.voids_after[1]})"]
    lines += [f"  - {action}" for action in plan.actions]
    lines += [f"  ! remaining: {problem}" for problem in plan.remaining]
    lines += [f"  ! not changed: {problem}" for problem in plan.problems]
    lines += ["", plan.diff(), ""]
    if plan.intended:
        lines.append("intended differences:")
        lines += [f"  {', '.join(d.cidrs[:4])}{' …' if len(d.cidrs) > 4 else ''}: {d.before} → {d.after} ({d.why})"
                  for d in plan.intended]
    proof = plan.proof
    lines.append(f"verdict: {plan.verdict} ({proof['samples']} addresses evaluated with check_host() before and "
                 f"after, {proof['samples_changed_as_intended']} changed as intended; address sets compared "
                 "exactly)")
    for mismatch in proof["unintended_sample_differences"][:5]:
        lines.append(f"  UNINTENDED: {mismatch['ip']}: {mismatch['before']} → {mismatch['after']}")
    lines.append(f"checksum: {plan.checksum}")
    if dry_run and plan.proven:
        lines.append("To write it: add --provider NAME --apply.")
    return safe_lines("\n".join(lines))
