"""The monitor's per-domain step, pure: from a domain's new snapshot, its previous ones and its stored problems
to the events to send and the problem updates to store. No store, no network: tested on its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from spfguard.monitor import drift
from spfguard.monitor.drift import Event
from spfguard.monitor.snapshot import Snapshot


@dataclass
class StoredProblem:
    message: str
    since: float
    last_notified: float


@dataclass(frozen=True)
class ProblemUpdate:
    code: str
    key: str
    message: str | None = None  # None: the problem cleared
    since: float = 0.0
    last_notified: float = 0.0


@dataclass
class DomainStep:
    events: list[Event] = field(default_factory=list)
    updates: list[ProblemUpdate] = field(default_factory=list)
    open: int = 0  # problems open after this step
    incomplete: bool = False


def step(domain: str, tenant: str | None, snapshot: Snapshot, last: Snapshot | None, last_complete: Snapshot | None,
         stored: dict[tuple[str, str], StoredProblem], *, now: float, warn_lookups: int = 9,
         remind_after: float | None = None, notified: dict[tuple[str, str], float] | None = None) -> DomainStep:
    """Changes are reported once, when they happen; problems when they start (and, with ``remind_after``, again
    while they last); a problem that clears is ``resolved`` — except that an incomplete check can only decide
    ``check-failing``. Throttled: a problem announced less than ``remind_after`` ago (``notified``: when each
    (code, key) of the domain was last announced) that clears and comes back is not announced again before then,
    nor is its clearing — one alert per domain per problem per ``remind_after``, however it flaps."""
    result = DomainStep(incomplete=snapshot.incomplete)
    current = drift.problems(snapshot, last, warn_lookups)
    for (code, key), message in current.items():
        known = stored.get((code, key))
        if known is None:
            last_said = (notified or {}).get((code, key))
            if remind_after is not None and last_said is not None and now - last_said < remind_after:
                result.updates.append(ProblemUpdate(code, key, message, now, last_said))  # not announced
                continue
            result.events.append(Event(domain, code, key, message, tenant=tenant))
            result.updates.append(ProblemUpdate(code, key, message, now, now))
            continue
        said = known.last_notified
        if remind_after is not None and now - said >= remind_after:
            result.events.append(Event(domain, code, key, "still: " + message, tenant=tenant))
            said = now
        result.updates.append(ProblemUpdate(code, key, message, known.since, said))
    for (code, key), known in stored.items():
        if (code, key) in current:
            continue
        if snapshot.incomplete and code != "check-failing":
            continue  # cannot tell whether it cleared
        if known.last_notified >= known.since:  # its opening was announced: so is its clearing
            result.events.append(Event(domain, "resolved", f"{code}:{key}".rstrip(":"),
                                       f"resolved: {known.message}", {"problem": code}, tenant=tenant))
        result.updates.append(ProblemUpdate(code, key))
    for event in drift.changes(snapshot, last_complete):
        event.tenant = tenant
        result.events.append(event)
    result.open = len(current)
    return result
