"""The heartbeat: one ping at the end of every monitor run, success or failure, so that a run that never happens
is noticed by the service watching for pings (healthchecks.io, Uptime Kuma's push monitors, Cronitor …).

``heartbeat = "https://hc-ping.com/UUID"``: a run that completed (healthy or with problems) pings the URL, one
that could not check or failed pings ``URL/fail`` (healthchecks.io's convention); ``heartbeat = { url = …, fail =
… }`` names the failure URL (Uptime Kuma: ``…?status=down``). The body is the run's one-line summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spfguard.monitor.alerts import http_post
from spfguard.tables import check_keys, get_str, parse_url


@dataclass(frozen=True)
class Heartbeat:
    url: str
    fail: str

    def ping(self, ok: bool, summary: str, timeout: float) -> None:
        url = self.url if ok else self.fail
        http_post(url, summary.encode()[:10_000], {"Content-Type": "text/plain"}, timeout, "heartbeat")


def parse_heartbeat(value: Any, where: str) -> Heartbeat:
    if isinstance(value, dict):
        check_keys(value, where, ("url", "fail"))
        url = parse_url(get_str(value, "url", where), f"{where}.url")
        fail = get_str(value, "fail", where)
        return Heartbeat(url, parse_url(fail, f"{where}.fail") if fail else url.rstrip("/") + "/fail")
    url = parse_url(value, where)
    return Heartbeat(url, url.rstrip("/") + "/fail")
