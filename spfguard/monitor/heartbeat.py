"""The heartbeat: one ping at the end of every monitor run, success or failure, so that a run that never happens
is noticed by the service watching for pings (healthchecks.io, Uptime Kuma's push monitors, Cronitor …).

``heartbeat = "https://hc-ping.com/UUID"``: a run that completed (healthy or with problems) pings the URL, one
that could not check or failed pings ``URL/fail`` (healthchecks.io's convention); ``heartbeat = { url = …, fail =
… }`` names the failure URL (Uptime Kuma: ``…?status=down``). The body is the run's one-line summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spfguard.monitor.alerts import AlertError
from spfguard.net import DeadlineExceeded, http_request
from spfguard.redact import redact, safe_url
from spfguard.tables import check_keys, get_str, parse_url


@dataclass(frozen=True)
class Heartbeat:
    url: str
    fail: str

    def ping(self, ok: bool, summary: str, timeout: float) -> None:
        url = self.url if ok else self.fail
        try:
            status, _ = http_request(url, data=summary.encode()[:10_000], headers={"Content-Type": "text/plain"},
                                     timeout=timeout)
        except DeadlineExceeded as err:
            raise AlertError(f"heartbeat {safe_url(url)}: {err}") from None
        except OSError as err:
            raise AlertError(f"heartbeat {safe_url(url)} unreachable: {redact(err.strerror or err)}") from None
        if status >= 300:
            raise AlertError(f"heartbeat {safe_url(url)} answered HTTP {status}")


def parse_heartbeat(value: Any, where: str) -> Heartbeat:
    if isinstance(value, dict):
        check_keys(value, where, ("url", "fail"))
        url = parse_url(get_str(value, "url", where), f"{where}.url")
        fail = get_str(value, "fail", where)
        return Heartbeat(url, parse_url(fail, f"{where}.fail") if fail else url.rstrip("/") + "/fail")
    url = parse_url(value, where)
    return Heartbeat(url, url.rstrip("/") + "/fail")
