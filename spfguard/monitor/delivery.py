"""The notification stage: what the outbox holds for each sink, claimed (so that shards finishing together never
send the same alert twice), sent as one message per batch through the sink registry
(:mod:`spfguard.monitor.sinks`) with the batch's key, then marked delivered — or released, with its error, to be
sent next run. A failing sink never holds back the others, and no error of a sink ends the run.

Exactly once, and where it stops: a sender killed after the receiver accepted a message but before the store
recorded it leaves the batch claimed; once its lease expires the next run sends the same batch again, with the
same key (``Idempotency-Key`` on webhooks, the ``Message-ID`` of mail), so the receiver can drop that one
duplicate."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from spfguard.monitor.alerts import alert_message
from spfguard.monitor.drift import Event
from spfguard.monitor.settings import AlertSettings
from spfguard.monitor.store import Store, sink_key, split_sink_key
from spfguard.redact import redact

log = logging.getLogger(__name__)


def sinks_for(alerts: AlertSettings, tenant: str | None) -> list[str]:
    """The outbox keys of the sinks a domain's events go to (its tenant's route, else the default one)."""
    name = alerts.route_name(tenant)
    return [sink_key(name, kind) for kind in alerts.route(tenant).sinks]


@dataclass
class Delivery:
    sent: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def deliver(store: Store, alerts: AlertSettings, now: float, worker: str) -> Delivery:
    result = Delivery()
    for key in store.pending_sinks():
        name, kind = split_sink_key(key)
        route = alerts.named(name)
        sink = route.sinks.get(kind) if route is not None else None
        if sink is None:
            result.errors.append(f"{key}: no longer configured; {len(store.pending(key))} alert(s) kept until it is")
            continue
        title = "" if name == "default" else f" (tenant {name})"
        for batch in store.claim(key, worker, now, alerts.lease):
            message = alert_message(batch.events, title, key=batch.key)
            try:
                sink.send(message, alerts.timeout)
            except Exception as err:  # noqa: BLE001 - a sink's failure is that sink's, never the run's end
                reason = redact(err)
                if os.environ.get("SPFGUARD_DEBUG"):
                    log.exception("sending to %s failed", key)
                store.failed(key, batch.events, reason)
                result.errors.append(f"{key}: {reason}")
                break
            store.delivered(key, batch.events, now)
            result.sent += [e for e in batch.events if all(e.id != s.id for s in result.sent)]
    return result
