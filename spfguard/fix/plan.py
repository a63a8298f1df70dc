"""A plan is data: ordered changes of whole TXT record sets, each with the values it expects to replace.

Children come before the apex (a chained record must exist before anything includes it); deletions of
chained records no longer needed come last. The checksum covers the changes, so a plan shown in a review
is the plan applied: ``fix --plan-out`` writes it, ``fix --from-plan`` applies exactly it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

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
    def from_json(cls, data: Any, where: str) -> Plan:
        """A plan written by ``fix --plan-out``, checked field by field before anything is done with it (as a
        backup is): a file of the wrong shape is a one-line error naming the field. Its checksum must match its
        changes (a plan edited after the review is refused). What it says of itself (verdict, proof) is read but
        not trusted: ``fix --from-plan`` proves it again (:mod:`spfguard.fix.review`)."""
        check = _Fields(where)
        check.need(isinstance(data, dict) and data.get("version") == PLAN_VERSION, f"expected version {PLAN_VERSION}")
        domain = check.name(data.get("domain"), "domain")
        raw_changes = data.get("changes")
        check.need(isinstance(raw_changes, list) and 0 < len(raw_changes) <= MAX_CHANGES,
                   f"changes must be a list of 1 to {MAX_CHANGES} changes")
        changes, seen = [], set()
        for i, raw in enumerate(raw_changes):
            at = f"changes[{i}]"
            check.need(isinstance(raw, dict), f"{at} must be an object")
            name = check.name(raw.get("name"), f"{at}.name")
            check.need(name not in seen, f"{at}.name: {name} is changed twice")
            seen.add(name)
            before, after = check.values(raw.get("before"), f"{at}.before"), check.values(raw.get("after"),
                                                                                      f"{at}.after")
            layout = check.layout(raw.get("strings", []), after, f"{at}.strings")
            changes.append(Change(name, tuple(before), tuple(after), layout))
        lookups = check.table(data.get("lookups", {}), "lookups")
        voids = check.table(data.get("void_lookups_after", {}), "void_lookups_after")
        plan = cls(domain, changes, check.count(lookups.get("before", 0), "lookups.before"),
                   check.count(lookups.get("after", 0), "lookups.after"),
                   (check.count(voids.get("ipv4", 0), "void_lookups_after.ipv4"),
                    check.count(voids.get("ipv6", 0), "void_lookups_after.ipv6")),
                   check.texts(data.get("actions", []), "actions"),
                   check.differences(data.get("intended_differences", []), "intended_differences"),
                   _verdict(data.get("verdict")), check.table(data.get("proof", {}), "proof"),
                   {k: v for k, v in check.table(data.get("records_after", {}), "records_after").items()
                    if isinstance(k, str) and isinstance(v, str)},
                   check.texts(data.get("remaining_problems", []), "remaining_problems"),
                   check.texts(data.get("unfixed_errors", []), "unfixed_errors"),
                   check.flattenings(data.get("flattened", []), "flattened"),
                   check.texts(data.get("expect", []), "expect"))
        check.need(plan.checksum == data.get("checksum"),
                   "its checksum does not match its changes (edited after review?)")
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


MAX_CHANGES = 32  # names one plan may change (the apex and its chained records)
MAX_VALUE = 4096  # octets in one TXT value: far above any SPF record (450 is already a finding)
MAX_TEXT = 2000  # characters in one line of a plan's prose (actions, problems)


class _Fields:
    """Checks of a plan file's fields, each failure one line naming the field."""

    def __init__(self, where: str):
        self.where = where

    def need(self, condition: bool, what: str) -> None:
        if not condition:
            raise UserError(f"{self.where} is not an spfguard plan: {what}")

    def name(self, value: Any, field_name: str) -> str:
        from spfguard.domains import parse_domain

        self.need(isinstance(value, str) and 0 < len(value) <= 253, f"{field_name} must be a domain name")
        try:
            return parse_domain(value)
        except UserError:
            self.need(False, f"{field_name}: {value[:80]!r} is not a domain name")
            raise

    def values(self, value: Any, field_name: str) -> list[str]:
        self.need(isinstance(value, list) and all(isinstance(v, str) for v in value),
                  f"{field_name} must be a list of strings")
        self.need(len(value) <= 64, f"{field_name}: more than 64 TXT values at one name")
        for v in value:
            self.need(len(v.encode()) <= MAX_VALUE, f"{field_name}: a value of {len(v.encode())} octets (at most "
                      f"{MAX_VALUE})")
        return list(value)

    def layout(self, value: Any, after: list[str], field_name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The character-strings of each value: RFC 1035 §3.3 — at most 255 octets each, joining to the value."""
        self.need(isinstance(value, list), f"{field_name} must be a list")
        out = []
        for j, strings in enumerate(value):
            self.need(isinstance(strings, list) and all(isinstance(s, str) for s in strings) and bool(strings),
                      f"{field_name}[{j}] must be a non-empty list of strings")
            for s in strings:
                self.need(len(s.encode()) <= 255, f"{field_name}[{j}]: a character-string of {len(s.encode())} "
                          "octets (at most 255, RFC 1035 §3.3)")
            if "".join(strings) in after:  # the layout of another value is no layout (the checksum says so)
                out.append(("".join(strings), tuple(strings)))
        return tuple(out)

    def table(self, value: Any, field_name: str) -> dict:
        self.need(isinstance(value, dict), f"{field_name} must be an object")
        return value

    def count(self, value: Any, field_name: str) -> int:
        self.need(isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000,
                  f"{field_name} must be a whole number")
        return value

    def texts(self, value: Any, field_name: str) -> list[str]:
        self.need(isinstance(value, list) and all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value),
                  f"{field_name} must be a list of strings")
        return list(value)

    def networks(self, value: Any, field_name: str) -> list[str]:
        import ipaddress

        self.need(isinstance(value, list) and all(isinstance(v, str) for v in value),
                  f"{field_name} must be a list of CIDRs")
        for v in value:
            try:
                ipaddress.ip_network(v, strict=False)
            except ValueError:
                self.need(v == "…", f"{field_name}: {v[:60]!r} is not a CIDR")
        return list(value)

    def objects(self, value: Any, field_name: str) -> Iterator[tuple[str, dict]]:
        """A list of JSON objects, each checked as it is reached, with where it is (``field[i]``)."""
        self.need(isinstance(value, list), f"{field_name} must be a list")
        for i, item in enumerate(value):
            self.need(isinstance(item, dict), f"{field_name}[{i}] must be an object")
            yield f"{field_name}[{i}]", item

    def differences(self, value: Any, field_name: str) -> list[Difference]:
        return [Difference(self.networks(item.get("cidrs"), f"{at}.cidrs"),
                           *(self.texts([item.get(k, "")], f"{at}.{k}")[0] for k in ("before", "after", "why")))
                for at, item in self.objects(value, field_name)]

    def flattenings(self, value: Any, field_name: str) -> list[Flattening]:
        return [Flattening(self.name(item.get("include"), f"{at}.include"), self.networks(item.get("ranges"),
                                                                                        f"{at}.ranges"))
                for at, item in self.objects(value, field_name)]
