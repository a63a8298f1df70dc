"""Microsoft 365 IP address and URL web service (endpoints.office.com): the Exchange Online ranges for allow-lists.

Protocol (Microsoft's "Microsoft 365 IP Address and URL web service"): every request carries a
``ClientRequestId`` GUID, generated once per installation and reused; ``/version/{instance}`` gives the
``latest`` version (``YYYYMMDDNN``); ``/endpoints/{instance}`` is downloaded only when that version changed.
The data is cached under the user's cache directory with its version and fetch time. Without a cache, the
packaged snapshot (``spfguard/data``) is used — also for ``--zone`` runs and tests.

Endpoint ranges are not SPF ranges: Microsoft's SPF record decides what is *authorised*; these ranges answer
*connectivity and allow-list* questions (which addresses Exchange Online connects from on port 25).
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from spfguard.errors import IncompleteError
from spfguard.net import http_request
from spfguard.tables import xdg_cache_home

DEFAULT_BASE_URL = "https://endpoints.office.com"
INSTANCES = ("Worldwide", "USGovDoD", "USGovGCCHigh", "China")
SNAPSHOT_VERSION = "snapshot-2025-12-01"
SNAPSHOT_DATE = "2025-12-01"
STALE_AFTER_DAYS = 90
Fetch = Callable[[str], bytes]


class EndpointsError(IncompleteError):
    """The web service could not be reached or answered nonsense (one line, no traceback)."""


@dataclass
class EndpointData:
    instance: str
    version: str
    fetched_at: float | None  # None for the packaged snapshot
    sets: list[dict]
    source: str  # "cache" | "snapshot" | "download"

    def age_days(self, now: float | None = None) -> int:
        import datetime

        now = time.time() if now is None else now
        if self.fetched_at is not None:
            return int((now - self.fetched_at) // 86400)
        made = datetime.datetime.fromisoformat(SNAPSHOT_DATE).replace(tzinfo=datetime.UTC).timestamp()
        return int((now - made) // 86400)

    def age_note(self, now: float | None = None) -> str | None:
        """A warning when the data is older than 90 days (the packaged snapshot, or a cache never refreshed)."""
        days = self.age_days(now)
        if days <= STALE_AFTER_DAYS:
            return None
        what = f"the packaged snapshot of {SNAPSHOT_DATE}" if self.fetched_at is None else "the cached copy"
        return (f"Microsoft 365 endpoint data is {what}, {days} days old: run `spfguard ranges update` for "
                "current ranges")

    def exchange_smtp_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """Exchange Online's mail-flow ranges: Exchange endpoint sets that use TCP port 25."""
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for endpoint_set in self.sets:
            ports = {p.strip() for p in str(endpoint_set.get("tcpPorts", "")).split(",")}
            if endpoint_set.get("serviceArea") == "Exchange" and "25" in ports:
                networks.extend(ipaddress.ip_network(ip, strict=False) for ip in endpoint_set.get("ips", []))
        v4 = sorted({n for n in networks if n.version == 4})
        v6 = sorted({n for n in networks if n.version == 6})
        return v4 + v6


def cache_dir() -> Path:
    override = os.environ.get("SPFGUARD_CACHE_DIR")
    return Path(override) if override else xdg_cache_home()


class _HttpStatus(OSError):
    def __init__(self, code: int):
        super().__init__(f"HTTP {code}")
        self.code = code


def _http_fetch(url: str, timeout: float = 15.0) -> bytes:
    status, body = http_request(url, timeout=timeout)
    if status != 200:
        raise _HttpStatus(status)
    return body


class EndpointsClient:
    def __init__(self, base_url: str | None = None, directory: Path | None = None, fetch: Fetch | None = None):
        self.base_url = (base_url or os.environ.get("SPFGUARD_MS_ENDPOINTS_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.directory = directory or cache_dir()
        self._fetch = fetch or _http_fetch
        self.warnings: list[str] = []  # e.g. an unwritable cache directory: the command goes on, and says so

    # ---- the installation's client request id --------------------------------------------------------

    def client_request_id(self) -> str:
        path = self.directory / "ms-client-request-id"
        try:
            value = path.read_text().strip()
            uuid.UUID(value)
            return value
        except (OSError, ValueError):
            value = str(uuid.uuid4())
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_text(value + "\n")
        except OSError as err:
            self.warn(f"cannot write {path} ({err.strerror}); using a one-off request id")
        return value

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    # ---- web service ---------------------------------------------------------------------------------

    def _get_json(self, path: str, **params: str):
        query = urllib.parse.urlencode({"ClientRequestId": self.client_request_id(), **params})
        url = f"{self.base_url}{path}?{query}"
        host = urllib.parse.urlsplit(self.base_url).netloc
        try:
            return json.loads(self._fetch(url))
        except (urllib.error.HTTPError, _HttpStatus) as err:
            hint = " (too many requests: poll at most hourly)" if err.code == 429 else ""
            raise EndpointsError(f"{host} answered HTTP {err.code}{hint}") from None
        except TimeoutError:
            raise EndpointsError(f"{host} did not answer in time (offline? the cached or packaged data "
                                 "is used until an update succeeds)") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise EndpointsError(f"cannot reach {host}: {reason} (offline? the cached or packaged data "
                                 "is used until an update succeeds)") from None
        except ValueError:
            raise EndpointsError(f"{host} did not answer with JSON") from None

    def latest_version(self, instance: str = "Worldwide") -> str:
        data = self._get_json(f"/version/{instance}")
        if isinstance(data, list):  # /version without an instance lists them all
            data = next((d for d in data if d.get("instance") == instance), {})
        latest = data.get("latest") if isinstance(data, dict) else None
        if not isinstance(latest, str):
            raise EndpointsError(f"unexpected /version answer for {instance}")
        return latest

    def update(self, instance: str = "Worldwide") -> tuple[EndpointData, str | None]:
        """Check the version; download the endpoints only if it changed. Returns (data, previous version)."""
        _check_instance(instance)
        cached = self._read_cache(instance)
        latest = self.latest_version(instance)
        if cached is not None and cached.version == latest:
            return cached, cached.version
        sets = self._get_json(f"/endpoints/{instance}")
        if not isinstance(sets, list):
            raise EndpointsError(f"unexpected /endpoints answer for {instance}")
        data = EndpointData(instance, latest, time.time(), sets, "download")
        try:
            self._write_cache(data)
        except OSError as err:
            self.warn(f"cannot write the cache in {self.directory} ({err.strerror}): the new data is used for this "
                      "run only (set SPFGUARD_CACHE_DIR to a writable folder)")
        return data, cached.version if cached else None

    # ---- cache and snapshot --------------------------------------------------------------------------

    def _cache_path(self, instance: str) -> Path:
        return self.directory / f"ms-endpoints-{instance.lower()}.json"

    def _read_cache(self, instance: str) -> EndpointData | None:
        try:
            raw = json.loads(self._cache_path(instance).read_text())
            return EndpointData(instance, raw["version"], raw["fetched_at"], raw["endpoints"], "cache")
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_cache(self, data: EndpointData) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._cache_path(data.instance)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"instance": data.instance, "version": data.version,
                                   "fetched_at": data.fetched_at, "endpoints": data.sets}))
        tmp.replace(path)  # atomic: a crash never leaves half a cache

    def load(self, instance: str = "Worldwide", *, offline: bool = False) -> EndpointData:
        """Cached data if any (and not ``offline``), else the packaged snapshot."""
        _check_instance(instance)
        cached = None if offline else self._read_cache(instance)
        if cached is not None:
            return cached
        if instance != "Worldwide":
            raise EndpointsError(f"no cached data for {instance}: run `spfguard ranges update --instance {instance}`")
        return snapshot()


def snapshot() -> EndpointData:
    text = resources.files("spfguard").joinpath("data/msendpoints-worldwide.json").read_text(encoding="utf-8")
    return EndpointData("Worldwide", SNAPSHOT_VERSION, None, json.loads(text), "snapshot")


def _check_instance(instance: str) -> None:
    if instance not in INSTANCES:
        raise EndpointsError(f"unknown instance {instance!r} (allowed: {', '.join(INSTANCES)})")
