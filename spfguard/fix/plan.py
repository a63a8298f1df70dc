"""A plan is data: ordered changes of whole TXT record sets, each with the values it expects to replace.

Children come before the apex (a chained record must exist before anything includes it); deletions of
chained records no longer needed come last. The checksum covers the changes, so a plan shown in a review
is the plan applied: ``fix --plan-out`` writes it, ``fix --from-plan`` applies exactly it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from spfguard.errors import UserError
from spfguard.provider.base import Change

if TYPE_CHECKING:
    from spfguard.audit import Report

__all__ = ["Change", "Difference", "Flattening", "Plan", "Proposal"]

PLAN_VERSION = 1


class Verdict(StrEnum):
    """What the proof concluded about a plan."""

    EQUIVALENT = "equivalent"
    EQUIVALENT_EXCEPT_INTENDED = "equivalent except intended differences"
    NOT_EQUIVALENT = "NOT equivalent"
    NOT_PROVEN = "not proven"
    RESTORE = "restore"  # a rollback: exactly what a backup holds, not a proposal

    @property
    def proven(self) -> bool:
        return self in (Verdict.EQUIVALENT, Verdict.EQUIVALENT_EXCEPT_INTENDED)


@dataclass
class Difference:
    """Addresses whose verdict the plan changes on purpose."""

    cidrs: list[str]
    before: str
    after: str
    why: str


@dataclass
class Flattening:
    """Provenance: an include replaced by the ranges it authorised — so that its source can still be watched."""

    include: str
    ranges: list[str]
    action: int = 0  # index of its action in the plan
    lookups_saved: int = 0
    published: int = 0

    def to_json(self) -> dict:
        return {"include": self.include, "ranges": self.ranges}


@dataclass
class Plan:
    domain: str
    changes: list[Change]
    lookups_before: int
    lookups_after: int
    voids_after: tuple[int, int]
    actions: list[str] = field(default_factory=list)
    intended: list[Difference] = field(default_factory=list)
    verdict: Verdict = Verdict.NOT_PROVEN
    proof: dict = field(default_factory=dict)
    records_after: dict[str, str] = field(default_factory=dict)  # name -> SPF record, for display
    remaining: list[str] = field(default_factory=list)  # problems the plan leaves exactly as they are today
    problems: list[str] = field(default_factory=list)  # errors spfguard does not fix on its own, with the way out
    flattened: list[Flattening] = field(default_factory=list)
    expect: list[str] = field(default_factory=list)  # the platforms the plan was checked against (for verifying)

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def proven(self) -> bool:
        return Verdict(self.verdict).proven

    def _changes_json(self) -> list[dict]:
        return [{**c.to_json(), "strings": [list(c.strings_for(v)) for v in c.after]} for c in self.changes]

    @property
    def checksum(self) -> str:
        """Over the changes, character-strings included: what is written is what was reviewed."""
        canonical = json.dumps(self._changes_json(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> dict:
        return {
            "version": PLAN_VERSION,
            "domain": self.domain,
            "changes": self._changes_json(),
            "lookups": {"before": self.lookups_before, "after": self.lookups_after},
            "void_lookups_after": {"ipv4": self.voids_after[0], "ipv6": self.voids_after[1]},
            "actions": self.actions,
            "remaining_problems": self.remaining,
            "unfixed_errors": self.problems,
            "flattened": [f.to_json() for f in self.flattened],
            "expect": self.expect,
            "intended_differences": [asdict(d) for d in self.intended],
            "verdict": self.verdict,
            "proof": self.proof,
            "records_after": self.records_after,
            "checksum": self.checksum,
        }

    @classmethod
    def from_json(cls, data, where: str) -> Plan:
        """A plan written by ``fix --plan-out``; its checksum must match its changes (a plan edited after the
        review is refused)."""
        def need(condition: bool, what: str) -> None:
            if not condition:
                raise UserError(f"{where} is not an spfguard plan: {what}")

        need(isinstance(data, dict) and data.get("version") == PLAN_VERSION, f"expected version {PLAN_VERSION}")
        need(isinstance(data.get("domain"), str) and isinstance(data.get("changes"), list), "no domain or changes")
        changes = []
        for i, raw in enumerate(data["changes"]):
            need(isinstance(raw, dict) and isinstance(raw.get("name"), str), f"changes[{i}] has no name")
            before, after = raw.get("before"), raw.get("after")
            need(all(isinstance(x, list) and all(isinstance(v, str) for v in x) for x in (before, after)),
                 f"changes[{i}]: before and after must be lists of strings")
            strings = raw.get("strings") or []
            layout = tuple(("".join(s), tuple(s)) for s in strings if isinstance(s, list))
            changes.append(Change(raw["name"], tuple(before), tuple(after), layout))
        lookups = data.get("lookups") or {}
        voids = data.get("void_lookups_after") or {}
        plan = cls(data["domain"], changes, lookups.get("before", 0), lookups.get("after", 0),
                   (voids.get("ipv4", 0), voids.get("ipv6", 0)), list(data.get("actions") or []),
                   [Difference(**d) for d in data.get("intended_differences") or []], _verdict(data.get("verdict")),
                   dict(data.get("proof") or {}), dict(data.get("records_after") or {}),
                   list(data.get("remaining_problems") or []), list(data.get("unfixed_errors") or []),
                   [Flattening(f["include"], list(f["ranges"])) for f in data.get("flattened") or []],
                   list(data.get("expect") or []))
        need(plan.checksum == data.get("checksum"), "its checksum does not match its changes (edited after review?)")
        return plan

    def diff(self) -> str:
        before = [f'{c.name} TXT "{v}"' for c in self.changes for v in c.before]
        after = [f'{c.name} TXT "{v}"' for c in self.changes for v in c.after]
        lines = difflib.unified_diff(before, after, "current", "proposed", lineterm="", n=len(before) + len(after))
        return "\n".join(lines)


@dataclass
class Proposal:
    """A plan, and (for the HTML page) the audit of the record set it replaces."""

    plan: Plan
    current: Report | None = None


def _verdict(value: object) -> Verdict:
    """A verdict read from a file: one spfguard writes, else "not proven"."""
    return Verdict(value) if isinstance(value, str) and value in Verdict._value2member_map_ else Verdict.NOT_PROVEN
