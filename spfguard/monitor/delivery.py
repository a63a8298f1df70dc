"""The notification stage: what the outbox holds for each sink, sent as one message per sink (a tenant's webhook,
the default email …), then marked delivered — or left pending, with its error, to be sent next run. A failing
sink never holds back the others."""

from __future__ import annotations

from dataclasses import dataclass, field

from spfguard.monitor.alerts import AlertError, send_email, send_webhook
from spfguard.monitor.drift import Event
from spfguard.monitor.settings import AlertSettings, Route
from spfguard.monitor.store import Store

MAX_EVENTS_PER_MESSAGE = 200  # a first run over a large fleet: several messages, not one enormous one


def route_name(alerts: AlertSettings, tenant: str | None) -> str:
    return tenant if tenant is not None and tenant in alerts.tenants else "default"


def sinks_for(alerts: AlertSettings, tenant: str | None) -> list[str]:
    name = route_name(alerts, tenant)
    route = alerts.tenants.get(name) if name != "default" else alerts.default
    return [f"{name}/{kind}" for kind in ("webhook", "email") if getattr(route, kind)]


def _route(alerts: AlertSettings, name: str) -> Route | None:
    return alerts.default if name == "default" else alerts.tenants.get(name)


@dataclass
class Delivery:
    sent: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def send(route: Route, kind: str, events: list[Event], timeout: float, title: str) -> None:
    if kind == "webhook":
        send_webhook(route.webhook, events, timeout, title)
    else:
        send_email(route.email, events, timeout, title)


def deliver(store: Store, alerts: AlertSettings, now: float) -> Delivery:
    result = Delivery()
    for sink in store.pending_sinks():
        name, _, kind = sink.rpartition("/")
        events = store.pending(sink)
        route = _route(alerts, name)
        if route is None or not getattr(route, kind, None):
            result.errors.append(f"{sink}: no longer configured; {len(events)} alert(s) kept until it is")
            continue
        title = "" if name == "default" else f" (tenant {name})"
        for start in range(0, len(events), MAX_EVENTS_PER_MESSAGE):
            batch = events[start:start + MAX_EVENTS_PER_MESSAGE]
            try:
                send(route, kind, batch, alerts.timeout, title)
            except AlertError as err:
                store.failed(sink, batch, str(err))
                result.errors.append(f"{sink}: {err}")
                break
            store.delivered(sink, batch, now)
            result.sent += [e for e in batch if all(e.id != s.id for s in result.sent)]
    return result
