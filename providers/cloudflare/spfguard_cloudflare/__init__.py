"""Cloudflare provider for spfguard, through the official ``cloudflare`` SDK.

The API token comes from ``CLOUDFLARE_API_TOKEN`` (or ``api_token = "env:VAR" | "file:PATH"`` in
``[providers.cloudflare]``) and is never printed. The SDK's own base-URL setting (``CLOUDFLARE_BASE_URL`` or
``base_url``) is honoured; the SDK retries 429 and 5xx answers with back-off (``retries``, default 4). The
zone is the one whose name is the longest suffix of the record name (or ``zone_id``).

Cloudflare keeps one record per TXT value: a write edits values in place where it can (the record keeps its id,
comment and tags), creates the new ones and deletes the removed ones, right after a compare-and-set check.

Settings: ``zone_id``, ``api_token``, ``base_url``, ``retries``, ``ttl`` (default 1 = automatic),
``verify`` (``nameservers``, the default, or ``api``).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from spfguard.config import resolve_secret
from spfguard.fix.plan import Change
from spfguard.provider.base import ConflictError, Provider, ProviderError, same_values

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
HINTS = {
    401: "the API token is invalid or expired (CLOUDFLARE_API_TOKEN)",
    403: "the API token lacks the permission Zone → DNS → Edit (and Zone → Zone → Read) for this zone",
    404: "no such zone or record for this token",
    429: "Cloudflare rate limit reached even after retries; try again in a few minutes",
}


def content_strings(content: str) -> tuple[str, ...]:
    """Cloudflare returns TXT content either bare or as quoted character-strings ('"abc" "def"')."""
    content = content or ""
    if content.startswith('"') and content.endswith('"'):
        parts = _QUOTED.findall(content)
        if parts:
            return tuple(re.sub(r"\\(.)", r"\1", p) for p in parts)
    return (content,)


class CloudflareProvider(Provider):
    name = "cloudflare"
    settings_keys = ("api_token", "zone_id", "base_url", "retries", "ttl", "verify", "timeout")
    credentials = "API token: CLOUDFLARE_API_TOKEN or api_token = \"env:VAR\" / \"file:PATH\""

    def __init__(self, settings=None):
        super().__init__(settings)
        reference = self.settings.get("api_token") or ("env:CLOUDFLARE_API_TOKEN"
                                                         if os.environ.get("CLOUDFLARE_API_TOKEN") else None)
        if not reference:
            raise ProviderError("cloudflare: no API token: set CLOUDFLARE_API_TOKEN or [providers.cloudflare] "
                                "api_token = \"env:VAR\"")
        self._token = resolve_secret(reference, "providers.cloudflare.api_token")
        self._client = None
        self._zones: dict[str, str] = {}
        if self.settings.get("verify", "nameservers") not in ("nameservers", "api"):
            raise ProviderError("cloudflare: verify must be 'nameservers' or 'api'")

    def __repr__(self) -> str:  # never show the token
        return f"CloudflareProvider(zone_id={self.settings.get('zone_id')!r})"

    @property
    def client(self):
        if self._client is None:
            import cloudflare

            timeout = float(self.settings.get("timeout", 60))
            self._client = cloudflare.Cloudflare(api_token=self._token, base_url=self.settings.get("base_url"),
                                                 max_retries=int(self.settings.get("retries", 4)),
                                                 timeout=min(30.0, timeout))
        return self._client

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "zone_id": self.settings.get("zone_id")}

    def _call(self, what: str, fn, *args, **kwargs):
        """One API call with a total deadline (``timeout``, default 60 s, retries included): an API that trickles
        or never answers fails in time. The call runs in a worker thread; past the deadline the client is closed,
        which aborts the request."""
        import cloudflare

        deadline = float(self.settings.get("timeout", 60))
        outcome: dict = {}

        def work() -> None:
            try:
                outcome["value"] = fn(*args, **kwargs)
            except BaseException as err:  # noqa: BLE001 - handed back to the caller's thread
                outcome["error"] = err

        worker = threading.Thread(target=work, name="cloudflare-call", daemon=True)
        worker.start()
        worker.join(deadline)
        if worker.is_alive():
            client, self._client = self._client, None
            if client is not None:
                client.close()
            changes = "; a write may or may not have been applied: check with `spfguard check`" \
                if what.startswith(("creating", "updating", "deleting", "writing")) else ""
            raise ProviderError(f"cloudflare: {what}: no complete answer within {deadline:g}s{changes}")
        try:
            if "error" in outcome:
                raise outcome["error"]
            return outcome["value"]
        except cloudflare.APIStatusError as err:
            hint = HINTS.get(err.status_code, "")
            codes = ", ".join(f"{e.get('code')} {e.get('message')}" for e in _errors(err))
            raise ProviderError(f"cloudflare: {what} failed (HTTP {err.status_code}{': ' + codes if codes else ''})"
                                f"{' — ' + hint if hint else ''}") from None
        except cloudflare.APIConnectionError as err:
            raise ProviderError(f"cloudflare: cannot reach the API: {err}") from None

    def zone_id(self, name: str) -> str:
        if self.settings.get("zone_id"):
            return self.settings["zone_id"]
        labels = name.rstrip(".").lower().split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            if candidate not in self._zones:
                zones = list(self._call("listing zones", self.client.zones.list, name=candidate))
                self._zones[candidate] = zones[0].id if zones else ""
            if self._zones[candidate]:
                return self._zones[candidate]
        raise ProviderError(f"cloudflare: no zone for {name} is visible to this token")

    def zone_of(self, name: str) -> str:
        zone_id = self.zone_id(name)
        return next((z for z, i in self._zones.items() if i == zone_id), zone_id)

    def _records(self, name: str) -> list[Any]:
        fqdn = name.rstrip(".").lower()
        records = self._call(f"reading TXT {fqdn}", self.client.dns.records.list, zone_id=self.zone_id(name),
                             type="TXT", name={"exact": fqdn})
        return [r for r in records if (r.name or "").rstrip(".").lower() == fqdn]

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        return [content_strings(r.content) for r in self._records(name)]

    def read_txt(self, name: str) -> list[str]:
        return ["".join(s) for s in self.read_txt_strings(name)]

    def _write(self, change: Change) -> None:
        zone_id = self.zone_id(change.name)
        records = self._records(change.name)
        values = ["".join(content_strings(r.content)) for r in records]
        if not same_values(values, change.before):
            raise ConflictError(change.name, change.before, values)
        unchanged = list(change.after)
        stale = []
        for record, value in zip(records, values, strict=True):
            if value in unchanged:
                unchanged.remove(value)
            else:
                stale.append(record)
        fqdn = change.name.rstrip(".").lower()
        ttl = int(self.settings.get("ttl", 1))
        records_api = self.client.dns.records
        for value in unchanged:  # new values: reuse a stale record (edit in place) or create one
            if stale:
                record = stale.pop(0)
                self._call(f"updating TXT {fqdn}", records_api.edit, record.id, zone_id=zone_id, name=fqdn,
                           type="TXT", content=value, ttl=record.ttl or ttl)
            else:
                self._call(f"creating TXT {fqdn}", records_api.create, zone_id=zone_id, name=fqdn, type="TXT",
                           content=value, ttl=ttl)
        for record in stale:
            self._call(f"deleting TXT {fqdn}", records_api.delete, record.id, zone_id=zone_id)

    def authoritative(self, domain: str) -> list[str]:
        if self.settings.get("verify", "nameservers") == "api":
            return []
        zone = self._call("reading the zone", self.client.zones.get, zone_id=self.zone_id(domain))
        return list(getattr(zone, "name_servers", None) or [])


def _errors(err) -> list[dict]:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        return [e for e in body.get("errors", []) if isinstance(e, dict)]
    return []
