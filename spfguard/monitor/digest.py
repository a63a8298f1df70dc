"""``monitor digest``: a summary per route (each tenant with its own alerts, and the default route) of its fleet
over a period — problems open, problems resolved, domains failing to check — built from the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from spfguard.monitor.alerts import AlertError, post_json, send_mail
from spfguard.monitor.delivery import route_name
from spfguard.monitor.settings import AlertSettings, MonitorSettings
from spfguard.monitor.store import Store
from spfguard.report.escape import safe


@dataclass
class Digest:
    route: str
    domains: int
    open: list[tuple[str, str, str]] = field(default_factory=list)  # domain, code, message
    resolved: list[tuple[str, str]] = field(default_factory=list)  # domain, message
    failing: list[str] = field(default_factory=list)
    text: str = ""

    def to_json(self) -> dict:
        return {"route": self.route, "domains": self.domains,
                "open": [{"domain": d, "code": c, "message": m} for d, c, m in self.open],
                "resolved": [{"domain": d, "message": m} for d, m in self.resolved], "failing": self.failing}


def build_digests(store: Store, settings: MonitorSettings, since: float, period: str) -> list[Digest]:
    routes: dict[str, Digest] = {}
    route_of = {d.name: route_name(settings.alerts, d.tenant) for d in settings.domains}

    def digest(domain: str) -> Digest:
        name = route_of.get(domain, "default")
        return routes.setdefault(name, Digest(name, 0))

    for domain in route_of:
        digest(domain).domains += 1
    for domain, _, code, _, message, _ in store.open_problems():
        if domain in route_of:
            digest(domain).open.append((domain, code, message))
    for event in store.events_since(since):
        if event.code == "resolved" and event.domain in route_of:
            digest(event.domain).resolved.append((event.domain, event.message))
    for domain, _, snapshot in store.latest():
        if domain in route_of and snapshot.get("incomplete"):
            digest(domain).failing.append(domain)
    for item in routes.values():
        who = "" if item.route == "default" else f" for tenant {item.route}"
        lines = [f"spfguard digest{who}, last {period}: {item.domains} domain(s) watched, {len(item.open)} problem(s) "
                 f"open, {len(item.resolved)} resolved, {len(item.failing)} failing to check"]
        lines += [f"• open: {d} [{c}] {safe(m)}" for d, c, m in item.open]
        lines += [f"• resolved: {d}: {safe(m)}" for d, m in item.resolved]
        lines += [f"• could not check: {d}" for d in item.failing]
        item.text = "\n".join(lines)
    return sorted(routes.values(), key=lambda d: d.route)


def send_digests(digests: list[Digest], alerts: AlertSettings) -> list[str]:
    errors = []
    for item in digests:
        route = alerts.default if item.route == "default" else alerts.tenants.get(item.route)
        if route is None:
            continue
        try:
            if route.webhook:
                post_json(route.webhook, {"text": item.text, "digest": item.to_json()}, alerts.timeout)
            if route.email:
                send_mail(route.email, item.text.splitlines()[0], item.text, alerts.timeout)
        except AlertError as err:
            errors.append(f"{item.route}: {err}")
    return errors
