"""The notification stage: what the outbox holds for each sink, sent as one message per sink (a tenant's webhook,
the default email …) through the sink registry (:mod:`spfguard.monitor.sinks`), then marked delivered — or left
pending, with its error, to be sent next run. A failing sink never holds back the others."""

from __future__ import annotations

from dataclasses import dataclass, field

from spfguard.monitor.alerts import AlertError, alert_message
from spfguard.monitor.drift import Event
from spfguard.monitor.settings import AlertSettings
from spfguard.monitor.store import Store, sink_key, split_sink_key

MAX_EVENTS_PER_MESSAGE = 200  # a first run over a large fleet: several messages, not one enormous one


def sinks_for(alerts: AlertSettings, tenant: str | None) -> list[str]:
    """The outbox keys of the sinks a domain's events go to (its tenant's route, else the default one)."""
    name = alerts.route_name(tenant)
    return [sink_key(name, kind) for kind in alerts.route(tenant).sinks]


@dataclass
class Delivery:
    sent: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def deliver(store: Store, alerts: AlertSettings, now: float) -> Delivery:
    result = Delivery()
    for key in store.pending_sinks():
        name, kind = split_sink_key(key)
        events = store.pending(key)
        route = alerts.named(name)
        sink = route.sinks.get(kind) if route is not None else None
        if sink is None:
            result.errors.append(f"{key}: no longer configured; {len(events)} alert(s) kept until it is")
            continue
        title = "" if name == "default" else f" (tenant {name})"
        for start in range(0, len(events), MAX_EVENTS_PER_MESSAGE):
            batch = events[start:start + MAX_EVENTS_PER_MESSAGE]
            try:
                sink.send(alert_message(batch, title), alerts.timeout)
            except AlertError as err:
                store.failed(key, batch, str(err))
                result.errors.append(f"{key}: {err}")
                break
            store.delivered(key, batch, now)
            result.sent += [e for e in batch if all(e.id != s.id for s in result.sent)]
    return result
