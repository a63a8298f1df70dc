"""Renderers of ``fix`` and ``rollback``: a plan as text (the actions, what remains, the diff, the intended
differences and the proof) or JSON (the plan file's own form), what an apply did, what a rollback would change."""

from __future__ import annotations

import json

from spfguard.fix.apply import Applied
from spfguard.fix.plan import Plan, Proposal
from spfguard.report import Renderer
from spfguard.spf.limits import LOOKUP_LIMIT
from spfguard.textsafe import safe, safe_lines


class PlanText(Renderer):
    def render(self, result: Proposal) -> str:
        return plan_text(result.plan, dry_run=self.options.dry_run) + "\n"


class PlanJson(Renderer):
    def render(self, result: Proposal) -> str:
        return json.dumps(result.plan.to_json(), indent=2) + "\n"


class AppliedText(Renderer):
    """After the steps (printed as they happened): where the change was verified, and any error found there."""

    def render(self, result: Applied) -> str:
        report = result.report
        lines = [f"verified at {result.verified_at}: {report.lookups}/{LOOKUP_LIMIT} lookups, verdict {report.verdict}"]
        lines += [f"  error {f.code}: {safe(f.message)}" for f in result.errors]
        return "\n".join(lines) + "\n"


class RollbackText(Renderer):
    """What a rollback changes against what is published now (names already restored are left out)."""

    def render(self, result) -> str:
        plan = result.plan
        if plan.empty:
            return f"{result.backup.domain}: already restored — the published values are the backup's\n"
        if result.applied is not None:
            lines = [f"restored {len(plan.changes)} name(s); verified at {result.applied.verified_at}"]
            return "\n".join(lines) + "\n"
        lines = []
        for change in plan.changes:
            lines.append(f"{change.name}:")
            lines += [f'  - TXT "{safe(v)}"' for v in change.before if v not in change.after]
            lines += [f'  {"+" if v not in change.before else " "} TXT "{safe(v)}"' for v in change.after]
        if not result.moved:
            lines.append("dry run: nothing is written; add --apply to restore")
        return "\n".join(lines) + "\n"


def plan_text(plan: Plan, *, dry_run: bool) -> str:
    if plan.empty and not plan.problems:
        return f"{plan.domain}: nothing to change — the published record set is already what spfguard proposes " \
               f"({plan.lookups_before}/{LOOKUP_LIMIT} lookups)."
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
    for worse in proof.get("worse_at_strict_receivers", [])[:5]:
        lines.append(f"  WORSE at receivers that enforce RFC 7208's limits: {worse['ip']}: {worse['before']} today → "
                     f"{worse['after']} (evaluated past the void-prone terms)")
    lines.append(f"checksum: {plan.checksum}")
    if dry_run and plan.proven:
        lines.append("To write it: add --provider NAME --apply.")
    return safe_lines("\n".join(lines))
