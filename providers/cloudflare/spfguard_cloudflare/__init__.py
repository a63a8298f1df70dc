"""Cloudflare provider for spfguard, through the official ``cloudflare`` SDK.

The API token comes from ``CLOUDFLARE_API_TOKEN`` (or ``api_token = "env:VAR" | "file:PATH"`` in
``[providers.cloudflare]``) and is never printed. The SDK's own base-URL setting (``CLOUDFLARE_BASE_URL`` or
``base_url``) is honoured; the SDK retries 429 and 5xx answers with back-off (``retries``, default 4), and every
call has a total deadline (``timeout``, default 60 s). The zone is the one whose name is the longest suffix of
the record name (or ``zone_id``).

Cloudflare keeps one record per TXT value. The changes of a zone are **one** request to the batch endpoint
(``POST /zones/{id}/dns_records/batch``: deletes, patches, posts), which Cloudflare applies all-or-nothing in one
transaction; values are read and compared just before (Cloudflare offers no precondition on a record's value, so
an edit that lands between that read and the batch is not seen) and read back and compared after.

Settings: ``zone_id``, ``api_token``, ``base_url``, ``retries``, ``timeout``, ``ttl`` (default 1 = automatic),
``verify`` (``nameservers``, the default, or ``api``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spfguard.provider import (
    Change,
    ConflictError,
    DeadlineExceeded,
    Provider,
    ProviderError,
    SettingsError,
    call_with_deadline,
    same_values,
    unquote,
)

HINTS = {
    401: "the API token is invalid or expired (CLOUDFLARE_API_TOKEN)",
    403: "the API token lacks the permission Zone → DNS → Edit (and Zone → Zone → Read) for this zone",
    404: "no such zone or record for this token",
    429: "Cloudflare rate limit reached even after retries; try again in a few minutes",
}


def content_strings(content: str) -> tuple[str, ...]:
    """Cloudflare returns TXT content either bare or as quoted character-strings ('"abc" "def"')."""
    return unquote(content or "")


class CloudflareProvider(Provider):
    name = "cloudflare"
    settings_keys = ("api_token", "zone_id", "base_url", "retries", "ttl", "verify", "timeout")
    secret_keys = ("api_token",)
    env_defaults = {"api_token": "CLOUDFLARE_API_TOKEN"}
    guarantee = "atomic batch (read-compare before)"
    credentials = "API token: CLOUDFLARE_API_TOKEN or api_token = \"env:VAR\" / \"file:PATH\""

    def __init__(self, settings=None):
        super().__init__(settings)
        self._token = self.secret("api_token")
        if not self._token:
            raise SettingsError("cloudflare: no API token: set CLOUDFLARE_API_TOKEN or [providers.cloudflare] "
                                "api_token = \"env:VAR\"")
        self._client = None
        self._zones: dict[str, str] = {}

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

        def abort() -> None:
            client, self._client = self._client, None
            if client is not None:
                client.close()

        try:
            return call_with_deadline(lambda: fn(*args, **kwargs), deadline, f"cloudflare: {what}", abort)
        except DeadlineExceeded as err:
            changes = "; a write may or may not have been applied: check with `spfguard check`" \
                if what.startswith(("creating", "updating", "deleting", "writing")) else ""
            raise ProviderError(f"{err}{changes}") from None
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

    def list_zones(self) -> list[str]:
        return sorted({zone.name.rstrip(".").lower() for zone in self._call("listing zones", lambda: list(
            self.client.zones.list()))})

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

    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        zone_id = self.zone_id(changes[0].name)
        ttl = int(self.settings.get("ttl", 1))
        deletes: list[dict] = []
        patches: list[dict] = []
        posts: list[dict] = []
        for change in changes:
            records = self._records(change.name)
            values = ["".join(content_strings(r.content)) for r in records]
            if not same_values(values, change.before):
                raise ConflictError(change.name, change.before, values)
            fqdn = change.name.rstrip(".").lower()
            new = list(change.after)
            stale = []
            for record, value in zip(records, values, strict=True):
                if value in new:
                    new.remove(value)  # unchanged: left alone
                else:
                    stale.append(record)
            for value in new:  # a new value reuses a stale record (its id, comment and tags) or is created
                if stale:
                    record = stale.pop(0)
                    patches.append({"id": record.id, "name": fqdn, "type": "TXT", "content": value,
                                    "ttl": record.ttl or ttl})
                else:
                    posts.append({"name": fqdn, "type": "TXT", "content": value, "ttl": ttl})
            deletes += [{"id": record.id} for record in stale]
        if not (deletes or patches or posts):
            return
        self._call("writing the changes of the zone in one batch", self.client.dns.records.batch, zone_id=zone_id,
                   deletes=deletes, patches=patches, posts=posts)
        self.read_back(changes, "the API lags, or another writer")

    def authoritative(self, domain: str) -> list[str]:
        if self.verify_through_api:
            return []
        zone = self._call("reading the zone", self.client.zones.get, zone_id=self.zone_id(domain))
        return list(getattr(zone, "name_servers", None) or [])


def _errors(err) -> list[dict]:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        return [e for e in body.get("errors", []) if isinstance(e, dict)]
    return []
