"""PowerDNS Authoritative provider for spfguard, through its HTTP API (``/api/v1``; PowerDNS 4.x).

Settings (``[providers.powerdns]``): ``url`` (the API's base URL, e.g. ``http://ns1.example:8081``;
``PDNS_API_URL``), ``api_key`` (``PDNS_API_KEY``, or ``"env:VAR"`` / ``"file:PATH"``; sent as ``X-API-Key``
and never shown), ``server_id`` (default ``localhost``), ``zone`` (default: the zone whose name is the longest
suffix of the record name), ``nameserver`` (``host[:port]`` that serves the zone over DNS, to verify a write;
default: the API's host on port 53), ``verify`` (``nameservers``, the default, or ``api``), ``timeout``
(seconds per request, default 30), ``ttl`` (of a new record set, default 3600; an existing set keeps its own).

The changes of a zone are **one** ``PATCH /servers/{server}/zones/{zone}`` whose RRsets carry ``changetype:
REPLACE`` (or ``DELETE`` when a name is left without TXT); PowerDNS applies the whole PATCH in one backend
transaction, all or nothing. The API has no precondition on an RRset's current content, so each name is read and
compared just before the PATCH and read back after it: an edit that lands between that read and the PATCH is
overwritten (the window is one round trip). Disabled records and the RRset's comments are kept as they are.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence
from typing import Any

from spfguard.provider import (
    Change,
    ConflictError,
    Provider,
    ProviderError,
    SettingsError,
    format_host_port,
    http_request,
    parse_host_port,
    quote,
    same_values,
    unquote,
    zone_for,
)

HINTS = {
    401: "the API key was refused (PDNS_API_KEY, or api_key in [providers.powerdns])",
    403: "the API key was refused, or the API does not allow this address (webserver-allow-from)",
    404: "no such server or zone on this PowerDNS (server_id, zone)",
}


class PowerDnsProvider(Provider):
    name = "powerdns"
    settings_keys = ("url", "api_key", "server_id", "zone", "nameserver", "verify", "timeout", "ttl")
    secret_keys = ("api_key",)
    env_defaults = {"url": "PDNS_API_URL", "api_key": "PDNS_API_KEY"}
    guarantee = "atomic batch (read-compare before)"
    credentials = "API key: PDNS_API_KEY or api_key = \"env:VAR\" / \"file:PATH\" (the X-API-Key header)"

    def __init__(self, settings=None):
        super().__init__(settings)
        url = str(self.settings.get("url") or "")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError("powerdns: url must be the API's base URL, e.g. http://ns1.example:8081 "
                                "(PDNS_API_URL or [providers.powerdns] url)")
        self._base = url.rstrip("/").removesuffix("/api/v1") + "/api/v1/servers/" + urllib.parse.quote(
            str(self.settings.get("server_id", "localhost")), safe="")
        self._key = self.secret("api_key")
        if not self._key:
            raise SettingsError("powerdns: no API key: set PDNS_API_KEY or [providers.powerdns] api_key = "
                                "\"env:VAR\"")
        host, port = parse_host_port(str(self.settings.get("nameserver") or parts.hostname), 53,
                                     "[providers.powerdns] nameserver")
        self._nameserver = format_host_port(host, port)
        self.timeout = float(self.settings.get("timeout", 30))
        self._zones: dict[str, str] | None = None  # zone name -> the API's zone id

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "url": self._base.rsplit("/api/v1", 1)[0],
                "server_id": self.settings.get("server_id", "localhost")}

    def __repr__(self) -> str:
        return f"PowerDnsProvider(url={self.describe()['url']!r})"

    # ---- the API --------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, what: str, body: dict | None = None) -> Any:
        headers = {"X-API-Key": self._key or "", "Accept": "application/json"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        try:
            status, raw = http_request(self._base + path, data=data, headers=headers, timeout=self.timeout,
                                       method=method, max_body=256 * 1024 * 1024)
        except OSError as err:
            changed = "; a write may or may not have been applied: check with `spfguard check`" \
                if method == "PATCH" else ""
            raise ProviderError(f"powerdns: {what}: cannot reach the API: {err}{changed}") from None
        if status >= 300:
            try:
                detail = str(json.loads(raw).get("error", ""))[:300]
            except (ValueError, AttributeError):
                detail = ""
            hint = HINTS.get(status, "")
            raise ProviderError(f"powerdns: {what} failed (HTTP {status}{': ' + detail if detail else ''})"
                                f"{' — ' + hint if hint else ''}")
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise ProviderError(f"powerdns: {what}: the API answered something that is not JSON") from None

    def _zone_ids(self) -> dict[str, str]:
        if self._zones is None:
            zones = self._call("GET", "/zones", "listing zones")
            if not isinstance(zones, list):
                raise ProviderError("powerdns: listing zones: unexpected answer")
            self._zones = {str(z["name"]).rstrip(".").lower(): str(z["id"]) for z in zones
                           if isinstance(z, dict) and "name" in z and "id" in z}
        return self._zones

    def list_zones(self) -> list[str]:
        return sorted(self._zone_ids())

    def zone_of(self, name: str) -> str:
        if self.settings.get("zone"):
            return str(self.settings["zone"]).rstrip(".").lower()
        zone = zone_for(name, self._zone_ids())
        if zone is None:
            raise ProviderError(f"powerdns: no zone for {name} on this server")
        return zone

    def _zone_path(self, zone: str) -> str:
        zone_id = self._zone_ids().get(zone) if not self.settings.get("zone") else None
        return "/zones/" + urllib.parse.quote(zone_id or zone + ".", safe="=.")

    def _rrset(self, name: str) -> dict:
        """The enabled TXT records at ``name`` (``records`` with ``content``, ``ttl``): a filtered read."""
        fqdn = name.rstrip(".").lower() + "."
        query = urllib.parse.urlencode({"rrsets": "true", "rrset_name": fqdn, "rrset_type": "TXT"})
        zone = self._call("GET", f"{self._zone_path(self.zone_of(name))}?{query}", f"reading TXT {fqdn}")
        return _txt_rrsets(zone).get(fqdn, {"records": [], "ttl": None})

    def _zone_txt(self, zone: str) -> dict[str, dict]:
        """Every TXT RRset of the zone, disabled records included (a filtered read leaves those out, and a REPLACE
        must carry them to keep them)."""
        return _txt_rrsets(self._call("GET", f"{self._zone_path(zone)}?rrsets=true", f"reading the zone {zone}"))

    # ---- the contract ---------------------------------------------------------------------------------

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        return [unquote(r["content"]) for r in self._rrset(name)["records"] if not r.get("disabled")]

    def read_txt(self, name: str) -> list[str]:
        return ["".join(s) for s in self.read_txt_strings(name)]

    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        rrsets, existing = [], self._zone_txt(zone)
        for change in changes:
            fqdn = change.name.rstrip(".").lower() + "."
            current = existing.get(fqdn, {"records": [], "ttl": None})
            enabled = [r for r in current["records"] if not r.get("disabled")]
            values = ["".join(unquote(r["content"])) for r in enabled]
            if not same_values(values, change.before):
                raise ConflictError(change.name, change.before, values)
            wanted = list(change.after)
            records = [r for r in current["records"] if r.get("disabled")]  # kept as they are
            for record, value in zip(enabled, values, strict=True):
                if value in wanted:  # unchanged: its exact content (layout) kept
                    wanted.remove(value)
                    records.append(record)
            records += [{"content": quote(change.strings_for(v)), "disabled": False} for v in wanted]
            if records:
                rrsets.append({"name": fqdn, "type": "TXT", "changetype": "REPLACE", "records": records,
                               "ttl": current["ttl"] or int(self.settings.get("ttl", 3600))})
            else:
                rrsets.append({"name": fqdn, "type": "TXT", "changetype": "DELETE"})
        self._call("PATCH", self._zone_path(zone), f"writing the changes of {zone} in one PATCH", {"rrsets": rrsets})
        self.read_back(changes)

    def authoritative(self, domain: str) -> list[str]:
        return [] if self.verify_through_api else [self._nameserver]


def _txt_rrsets(zone: Any) -> dict[str, dict]:
    """The TXT RRsets of a zone answer, by lower-case name (PowerDNS before 4.6 ignores the read filter, so the
    names are matched here in any case)."""
    if not isinstance(zone, dict):
        raise ProviderError("powerdns: reading the zone: unexpected answer")
    return {str(r.get("name", "")).lower(): r for r in zone.get("rrsets", [])
            if isinstance(r, dict) and r.get("type") == "TXT"}
