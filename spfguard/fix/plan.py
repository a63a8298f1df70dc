"""A plan is data: ordered changes of whole TXT record sets, each with the values it expects to replace.

Children come before the apex (a chained record must exist before anything includes it); deletions of
chained records no longer needed come last. The checksum covers the changes, so a plan shown in a review
is the plan applied.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import asdict, dataclass, field

from spfguard.spf.txt import split_strings

PLAN_VERSION = 1


@dataclass(frozen=True)
class Change:
    name: str
    before: tuple[str, ...]  # every TXT value at the name when the plan was made (joined strings)
    after: tuple[str, ...]  # every TXT value wanted there (other values kept as they were)
    # how a value is to be split into character-strings, when it must be exactly as it was (rollback)
    layout: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), compare=False)

    def strings_for(self, value: str) -> list[str]:
        for known, strings in self.layout:
            if known == value:
                return list(strings)
        return split_strings(value)  # RFC 1035 §3.3: at most 255 octets per character-string

    @property
    def kind(self) -> str:
        return "create" if not self.before else "delete" if not self.after else "update"

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "before": list(self.before), "after": list(self.after)}


@dataclass
class Difference:
    """Addresses whose verdict the plan changes on purpose."""

    cidrs: list[str]
    before: str
    after: str
    why: str


@dataclass
class Plan:
    domain: str
    changes: list[Change]
    lookups_before: int
    lookups_after: int
    voids_after: tuple[int, int]
    actions: list[str] = field(default_factory=list)
    intended: list[Difference] = field(default_factory=list)
    verdict: str = "not proven"  # equivalent | equivalent except intended differences | NOT equivalent
    proof: dict = field(default_factory=dict)
    records_after: dict[str, str] = field(default_factory=dict)  # name -> SPF record, for display
    remaining: list[str] = field(default_factory=list)  # problems the plan leaves exactly as they are today

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def proven(self) -> bool:
        return self.verdict.startswith("equivalent")

    @property
    def checksum(self) -> str:
        canonical = json.dumps([c.to_json() for c in self.changes], sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> dict:
        return {
            "version": PLAN_VERSION,
            "domain": self.domain,
            "changes": [c.to_json() for c in self.changes],
            "lookups": {"before": self.lookups_before, "after": self.lookups_after},
            "void_lookups_after": {"ipv4": self.voids_after[0], "ipv6": self.voids_after[1]},
            "actions": self.actions,
            "remaining_problems": self.remaining,
            "intended_differences": [asdict(d) for d in self.intended],
            "verdict": self.verdict,
            "proof": self.proof,
            "checksum": self.checksum,
        }

    def diff(self) -> str:
        before = [f'{c.name} TXT "{v}"' for c in self.changes for v in c.before]
        after = [f'{c.name} TXT "{v}"' for c in self.changes for v in c.after]
        lines = difflib.unified_diff(before, after, "current", "proposed", lineterm="", n=len(before) + len(after))
        return "\n".join(lines)
