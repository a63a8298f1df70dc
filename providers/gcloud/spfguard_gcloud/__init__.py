"""Google Cloud DNS provider for spfguard, through the official ``google-cloud-dns`` client.

Credentials are Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth
application-default login``, or the attached service account), read by ``google-auth``, never by spfguard.

Settings (``[providers.gcloud]``): ``project`` (``GOOGLE_CLOUD_PROJECT``), ``managed_zone`` (the zone's resource
name, e.g. ``example-com``; default: the public zone whose DNS name is the longest suffix of the record name),
``api_endpoint`` (default ``https://dns.googleapis.com``), ``ttl`` (of a new record set, default 300),
``timeout`` (total seconds per call, default 60; a change is waited for until its status is ``done``, at most
``wait``, default 120 s), ``verify`` (``nameservers``, the default: the zone's Cloud DNS nameservers, or ``api``).

The changes of a zone are **one** Cloud DNS ``Change``: the exact TXT record sets that were read (name, TTL and
every rrdata) in ``deletions``, the new sets in ``additions``. Cloud DNS applies a Change atomically and refuses
it whole (412 ``conditionNotMet``, or 409 when an added set already exists) unless every deletion matches the
live set exactly: a true compare-and-set over all names of the zone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from spfguard.provider import (
    Change,
    ConflictError,
    DeadlineExceeded,
    IncompleteError,
    Provider,
    ProviderError,
    SettingsError,
    call_with_deadline,
    first_line,
    quote,
    redact,
    same_values,
    unquote,
    zone_for,
)

HINTS = {
    401: "the Application Default Credentials were refused",
    403: "the credentials lack the role DNS Administrator (roles/dns.admin) on this project",
    404: "no such project or managed zone for these credentials",
}


def credentials_problem(err: Exception, what: str = "credentials") -> ProviderError:
    """No Application Default Credentials at all, or a key file that cannot be used (a different fix)."""
    key_file = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if key_file:
        return SettingsError(f"gcloud: {what}: the key file GOOGLE_APPLICATION_CREDENTIALS={key_file} cannot be used: "
                             f"{redact(first_line(err))}")
    return ProviderError(f"gcloud: {what}: no Application Default Credentials: set GOOGLE_APPLICATION_CREDENTIALS to "
                         "a key file, or run `gcloud auth application-default login`")


class CloudDnsProvider(Provider):
    name = "gcloud"
    settings_keys = ("project", "managed_zone", "api_endpoint", "ttl", "timeout", "wait", "verify")
    env_defaults = {"project": "GOOGLE_CLOUD_PROJECT"}
    guarantee = "atomic compare-and-set"
    credentials = ("Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud auth "
                   "application-default login, or the attached service account; role roles/dns.admin")

    def __init__(self, settings=None):
        super().__init__(settings)
        if not self.settings.get("project"):
            raise SettingsError("gcloud: no project: set GOOGLE_CLOUD_PROJECT or [providers.gcloud] project")
        self.timeout = float(self.settings.get("timeout", 60))
        self._client = None
        self._zones: dict[str, Any] | None = None  # DNS name -> ManagedZone

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "project": self.settings["project"],
                "managed_zone": self.settings.get("managed_zone")}

    def __repr__(self) -> str:
        return f"CloudDnsProvider(project={self.settings['project']!r})"

    # ---- the client -----------------------------------------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            import google.auth
            from google.auth import exceptions as auth
            from google.cloud import dns

            try:
                credentials, _ = google.auth.default(scopes=list(dns.Client.SCOPE))
            except auth.DefaultCredentialsError as err:
                raise credentials_problem(err) from None
            options = {"api_endpoint": self.settings["api_endpoint"]} if self.settings.get("api_endpoint") else None
            self._client = dns.Client(project=str(self.settings["project"]), credentials=credentials,
                                      client_options=options)
        return self._client

    def _call(self, what: str, fn, *args, **kwargs):
        from google.api_core import exceptions as api
        from google.api_core import retry
        from google.auth import exceptions as auth

        # 429 is refused before anything is done, so even a Change is retried on it; reads also on 5xx
        retryable = (api.TooManyRequests,) if what.startswith("writing") else (
            api.TooManyRequests, api.InternalServerError, api.ServiceUnavailable)
        policy = retry.Retry(predicate=retry.if_exception_type(*retryable), initial=1.0, maximum=10.0,
                             timeout=self.timeout)
        try:
            return call_with_deadline(lambda: policy(fn)(*args, **kwargs), self.timeout + 1, f"gcloud: {what}")
        except DeadlineExceeded as err:
            written = "; the change may or may not have been applied: check with `spfguard check`" \
                if what.startswith("writing") else ""
            raise ProviderError(f"{err}{written}") from None
        except auth.DefaultCredentialsError as err:
            raise credentials_problem(err, what) from None
        except auth.RefreshError:
            raise ProviderError(f"gcloud: {what}: the credentials could not be refreshed — {HINTS[401]}") from None
        except auth.TransportError as err:
            raise ProviderError(f"gcloud: {what}: cannot reach the token endpoint: "
                                f"{first_line(err)}") from None
        except (api.PreconditionFailed, api.Conflict):
            raise
        except api.GoogleAPICallError as err:
            code = int(err.code or 0)
            reason = getattr(err, "reason", None) or ""
            hint = HINTS.get(code, "")
            raise ProviderError(f"gcloud: {what} failed (HTTP {code}{': ' + reason if reason else ''})"
                                f"{' — ' + hint if hint else ''}") from None
        except (OSError, api.RetryError) as err:
            raise ProviderError(f"gcloud: {what}: cannot reach the API: {first_line(err)}") from None

    def _managed_zones(self) -> dict[str, Any]:
        if self._zones is None:
            zones = self._call("listing zones", lambda: list(self.client.list_zones()))
            # the client keeps the API's fields; private zones are not on the Internet
            self._zones = {z.dns_name.rstrip(".").lower(): z for z in zones
                           if getattr(z, "_properties", {}).get("visibility", "public") == "public"}
        return self._zones

    def list_zones(self) -> list[str]:
        return sorted(self._managed_zones())

    def zone_of(self, name: str) -> str:
        wanted = self.settings.get("managed_zone")
        zones = self._managed_zones()
        if wanted:
            found = [dns_name for dns_name, z in zones.items() if z.name == wanted]
            if not found:
                raise ProviderError(f"gcloud: no public managed zone named {wanted!r} in project "
                                    f"{self.settings['project']}")
            return found[0]
        zone = zone_for(name, zones)
        if zone is None:
            raise ProviderError(f"gcloud: no public managed zone for {name} in project {self.settings['project']}")
        return zone

    def _rrset(self, name: str) -> dict | None:
        """The TXT record set at ``name`` exactly as the API holds it, or None."""
        zone = self._managed_zones()[self.zone_of(name)]
        fqdn = name.rstrip(".").lower() + "."
        # the v1 rrsets.list filter (name, type); the client's own listing has no filter, and a zone can be large
        answer = self._call(f"reading TXT {fqdn}", self.client._connection.api_request, method="GET",
                            path=f"/projects/{zone.project}/managedZones/{zone.name}/rrsets",
                            query_params={"name": fqdn, "type": "TXT"})
        for rrset in (answer or {}).get("rrsets", []):
            if rrset.get("type") == "TXT" and str(rrset.get("name", "")).lower() == fqdn:
                return rrset
        return None

    # ---- the contract -----------------------------------------------------------------------------------------

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        rrset = self._rrset(name)
        return [unquote(r) for r in rrset["rrdatas"]] if rrset else []

    def read_txt(self, name: str) -> list[str]:
        return ["".join(s) for s in self.read_txt_strings(name)]

    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        from google.api_core import exceptions as api

        managed = self._managed_zones()[zone]
        change_set = managed.changes()
        for change in changes:
            current = self._rrset(change.name)
            rrdatas = list(current["rrdatas"]) if current else []
            values = ["".join(unquote(r)) for r in rrdatas]
            if not same_values(values, change.before):
                raise ConflictError(change.name, change.before, values)
            wanted = list(change.after)
            kept = []
            for value, rrdata in zip(values, rrdatas, strict=True):
                if value in wanted:  # unchanged: its exact rrdata (layout) kept
                    wanted.remove(value)
                    kept.append(rrdata)
            new = kept + [quote(change.strings_for(v)) for v in wanted]
            fqdn = change.name.rstrip(".").lower() + "."
            if current:  # the exact live set: Cloud DNS refuses the Change unless it still matches
                change_set.delete_record_set(managed.resource_record_set(fqdn, "TXT", current["ttl"], rrdatas))
            if new:
                ttl = current["ttl"] if current else int(self.settings.get("ttl", 300))
                change_set.add_record_set(managed.resource_record_set(fqdn, "TXT", ttl, new))
        try:
            self._call(f"writing the changes of {zone} in one Change", change_set.create)
        except (api.PreconditionFailed, api.Conflict):  # refused whole: name the set that moved
            moved = next((c for c in changes if not same_values(self.read_txt(c.name), c.before)), changes[0])
            raise ConflictError(moved.name, moved.before) from None
        self._wait_done(change_set, zone)
        self.read_back(changes)

    def _wait_done(self, change_set, zone: str) -> None:
        deadline = time.monotonic() + float(self.settings.get("wait", 120))
        delay = 0.2
        while change_set.status != "done":
            if time.monotonic() > deadline:
                raise IncompleteError(f"gcloud: the change of {zone} was accepted but is still "
                                      f"{change_set.status!r}: check it with `spfguard check` later")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            self._call(f"waiting for the change of {zone}", change_set.reload)

    def authoritative(self, domain: str) -> list[str]:
        if self.verify_through_api:
            return []
        zone = self._managed_zones()[self.zone_of(domain)]
        return [ns.rstrip(".") for ns in (zone.name_servers or [])]
