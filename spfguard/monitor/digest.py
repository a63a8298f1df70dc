"""``monitor digest``: a summary per route (each tenant with its own alerts, and the default route) of its fleet
over a period — problems open, problems resolved, domains failing to check — built from the store and sent
through the same sinks as alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from spfguard.monitor.alerts import AlertError, Message
from spfguard.monitor.settings import AlertSettings, MonitorSettings
from spfguard.monitor.store import Store
from spfguard.textsafe import safe


@dataclass
class Digest:
    route: str
    domains: int
    period: str = ""
    open: list[tuple[str, str, str]] = field(default_factory=list)  # domain, code, message
    resolved: list[tuple[str, str]] = field(default_factory=list)  # domain, message
    failing: list[str] = field(default_factory=list)

    @property
    def headline(self) -> str:
        who = "" if self.route == "default" else f" for tenant {self.route}"
        return (f"spfguard digest{who}, last {self.period}: {self.domains} domain(s) watched, {len(self.open)} "
                f"problem(s) open, {len(self.resolved)} resolved, {len(self.failing)} failing to check")

    @property
    def text(self) -> str:
        lines = [self.headline]
        lines += [f"• open: {d} [{c}] {safe(m)}" for d, c, m in self.open]
        lines += [f"• resolved: {d}: {safe(m)}" for d, m in self.resolved]
        lines += [f"• could not check: {d}" for d in self.failing]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"route": self.route, "domains": self.domains,
                "open": [{"domain": d, "code": c, "message": m} for d, c, m in self.open],
                "resolved": [{"domain": d, "message": m} for d, m in self.resolved], "failing": self.failing}

    @property
    def html(self) -> str:
        """The same digest for mail clients that show HTML (the plain text stays the first part)."""
        def items(title: str, rows: list[str]) -> str:
            if not rows:
                return ""
            return f"<h2>{title}</h2><ul>" + "".join(f"<li>{row}</li>" for row in rows) + "</ul>"

        return ("<!doctype html><html><body style=\"font-family:sans-serif\">"
                f"<p><b>{escape(self.headline)}</b></p>"
                + items("Open", [f"{escape(d)} <code>{escape(c)}</code> {escape(safe(m))}" for d, c, m in self.open])
                + items("Resolved", [f"{escape(d)}: {escape(safe(m))}" for d, m in self.resolved])
                + items("Could not check", [escape(d) for d in self.failing])
                + "</body></html>")

    def message(self) -> Message:
        return Message(self.headline, self.text, digest=self.to_json(), html=self.html)


def build_digests(store: Store, settings: MonitorSettings, since: float, period: str) -> list[Digest]:
    routes: dict[str, Digest] = {}
    route_of = {d.name: settings.alerts.route_name(d.tenant) for d in settings.domains}

    def digest(domain: str) -> Digest:
        name = route_of.get(domain, "default")
        return routes.setdefault(name, Digest(name, 0, period))

    for domain in route_of:
        digest(domain).domains += 1
    for problem in store.open_problems():
        if problem.domain in route_of:
            digest(problem.domain).open.append((problem.domain, problem.code, problem.message))
    for event in store.events_since(since):
        if event.code == "resolved" and event.domain in route_of:
            digest(event.domain).resolved.append((event.domain, event.message))
    for latest in store.latest():
        if latest.domain in route_of and latest.snapshot.incomplete:
            digest(latest.domain).failing.append(latest.domain)
    return sorted(routes.values(), key=lambda d: d.route)


def send_digests(digests: list[Digest], alerts: AlertSettings) -> list[str]:
    errors = []
    for item in digests:
        route = alerts.named(item.route)
        if route is None:
            continue
        for kind, sink in route.sinks.items():
            try:
                sink.send(item.message(), alerts.timeout)
            except AlertError as err:
                errors.append(f"{item.route}/{kind}: {err}")
    return errors
