"""Azure DNS provider for spfguard, through the official ``azure-mgmt-dns`` SDK.

Credentials come from ``azure-identity``'s ``DefaultAzureCredential`` chain — environment variables
(``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET`` or a certificate), workload identity, a managed
identity, then ``az login`` — and are never read, kept or shown by spfguard itself.

Settings (``[providers.azure]``): ``subscription_id`` (``AZURE_SUBSCRIPTION_ID``), ``resource_group`` (default: the
group of the zone, found by listing the subscription's zones), ``zone`` (default: the zone whose name is the
longest suffix of the record name), ``base_url`` (the Resource Manager endpoint, for sovereign clouds), ``ttl`` (of
a new record set, default 3600), ``timeout`` (total seconds per call, retries included, default 60), ``retries``
(default 4; 429 answers are retried after their ``Retry-After``), ``verify`` (``nameservers``, the default: the
zone's Azure nameservers, or ``api``).

Azure DNS keeps one record set per name and type, with an ``etag``. Each TXT set is written with ``If-Match``
set to the etag of the set that was read (``If-None-Match: *`` when there was none, and a delete with
``If-Match``), so Azure itself refuses the write when someone changed the set in between: a true compare-and-set,
per name. Azure has no multi-set transaction, so the names of a plan are written one after another (chained
records first, the record that includes them last); when Azure refuses one part-way, the names already written
are put back (again with ``If-Match``) and nothing of the plan stays.
"""

from __future__ import annotations

import os
import re
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
    first_line,
    redact,
    same_values,
    zone_for,
)

_GROUP = re.compile(r"/resourceGroups/([^/]+)/", re.I)
HINTS = {
    401: "the Azure credential was refused (DefaultAzureCredential: AZURE_* variables, managed identity, az login)",
    403: "the identity lacks the role 'DNS Zone Contributor' on this zone or its resource group",
    404: "no such subscription, resource group or zone for this identity",
}


class _Refused(Exception):
    """Azure answered 412: the set changed since it was read."""


class AzureDnsProvider(Provider):
    name = "azure"
    settings_keys = ("subscription_id", "resource_group", "zone", "base_url", "ttl", "timeout", "retries", "verify")
    env_defaults = {"subscription_id": "AZURE_SUBSCRIPTION_ID"}
    guarantee = "compare-and-set per name"
    credentials = ("DefaultAzureCredential: AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, workload or managed "
                   "identity, or az login; role DNS Zone Contributor")

    def __init__(self, settings=None):
        super().__init__(settings)
        if not self.settings.get("subscription_id"):
            raise SettingsError("azure: no subscription: set AZURE_SUBSCRIPTION_ID or [providers.azure] "
                                "subscription_id")
        self.timeout = float(self.settings.get("timeout", 60))
        self._client = None
        self._zones: dict[str, str] | None = None  # zone -> resource group

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "subscription_id": self.settings["subscription_id"],
                "resource_group": self.settings.get("resource_group")}

    def __repr__(self) -> str:
        return f"AzureDnsProvider(subscription_id={self.settings['subscription_id']!r})"

    # ---- the SDK ------------------------------------------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            from azure.identity import DefaultAzureCredential
            from azure.mgmt.dns import DnsManagementClient

            try:
                credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
            except ValueError as err:  # e.g. AZURE_AUTHORITY_HOST=http://…: azure-identity wants https
                raise SettingsError(f"azure: the credential settings cannot be used: {redact(first_line(err))} "
                                    "(AZURE_AUTHORITY_HOST must be an https:// URL)") from None
            self._client = DnsManagementClient(
                credential,
                str(self.settings["subscription_id"]), base_url=self.settings.get("base_url") or None,
                retry_total=int(self.settings.get("retries", 4)), connection_timeout=min(30.0, self.timeout),
                read_timeout=min(60.0, self.timeout))
        return self._client

    def _call(self, what: str, fn, *args, missing: Any = "raise", **kwargs):
        """One SDK call with a total deadline; errors become one line. ``missing``: returned instead when the
        record set does not exist (a 404 whose parent, the zone, does)."""
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

        def abort() -> None:
            client, self._client = self._client, None
            if client is not None:
                client.close()

        try:
            return call_with_deadline(lambda: fn(*args, **kwargs), self.timeout, f"azure: {what}", abort)
        except DeadlineExceeded as err:
            written = "; a write may or may not have been applied: check with `spfguard check`" \
                if what.startswith(("writing", "deleting", "restoring")) else ""
            raise ProviderError(f"{err}{written}") from None
        except ClientAuthenticationError as err:
            status = getattr(err, "status_code", None)
            if status is None:  # the whole chain came up empty
                configured = _configured_credential(str(getattr(err, "message", "") or err))
                if configured:  # one was set up and failed: its own reason (an unreachable authority …)
                    raise ProviderError(f"azure: {what}: {configured}") from None
                raise ProviderError(f"azure: {what}: no usable Azure credential (tried environment variables, "
                                    "workload identity, managed identity, Azure CLI): set AZURE_TENANT_ID, "
                                    "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, run with a managed identity, or run "
                                    "`az login`") from None
            raise ProviderError(f"azure: {what} failed (HTTP {status}) — {HINTS[401]}") from None
        except HttpResponseError as err:
            code = getattr(getattr(err, "error", None), "code", None) or ""
            if err.status_code == 412:
                raise _Refused() from None
            if err.status_code == 404 and missing != "raise" and code != "ParentResourceNotFound":
                return missing
            hint = HINTS.get(err.status_code or 0, "")
            raise ProviderError(f"azure: {what} failed (HTTP {err.status_code}{': ' + code if code else ''})"
                                f"{' — ' + hint if hint else ''}") from None
        except ServiceRequestError as err:
            raise ProviderError(f"azure: {what}: cannot reach the API: {first_line(err)}") from None

    def _zone_groups(self) -> dict[str, str]:
        if self._zones is None:
            group = self.settings.get("resource_group")
            zones = self._call("listing zones", lambda: list(
                self.client.zones.list_by_resource_group(group) if group else self.client.zones.list()))
            self._zones = {z.name.rstrip(".").lower(): (group or _group_of(z.id))
                           for z in zones if (z.zone_type or "Public") != "Private"}
        return self._zones

    def list_zones(self) -> list[str]:
        return sorted(self._zone_groups())

    def zone_of(self, name: str) -> str:
        if self.settings.get("zone"):
            return str(self.settings["zone"]).rstrip(".").lower()
        zone = zone_for(name, self._zone_groups())
        if zone is None:
            raise ProviderError(f"azure: no zone for {name} in this subscription"
                                + (f" and resource group {self.settings['resource_group']}"
                                   if self.settings.get("resource_group") else ""))
        return zone

    def _where(self, name: str) -> tuple[str, str, str]:
        """(resource group, zone, the set's name relative to the zone — ``@`` at the apex)."""
        zone = self.zone_of(name)
        group = self.settings.get("resource_group") or self._zone_groups().get(zone)
        if not group:
            raise SettingsError(f"azure: no resource group for the zone {zone}: set [providers.azure] resource_group")
        fqdn = name.rstrip(".").lower()
        return group, zone, "@" if fqdn == zone else fqdn.removesuffix("." + zone)

    def _get(self, name: str):
        group, zone, relative = self._where(name)
        return self._call(f"reading TXT {name}", self.client.record_sets.get, group, zone, relative, "TXT",
                          missing=None)

    # ---- the contract ------------------------------------------------------------------------------------

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        record_set = self._get(name)
        return [tuple(r.value or ()) for r in (record_set.txt_records or [])] if record_set else []

    def read_txt(self, name: str) -> list[str]:
        return ["".join(s) for s in self.read_txt_strings(name)]

    def _write(self, name: str, old, strings: list[tuple[str, ...]], what: str):
        """Put ``strings`` at ``name`` (delete the set when empty) on the condition that it still is ``old`` (the set
        that was read, or None). Returns the new set (None once deleted)."""
        from azure.mgmt.dns.models import RecordSet, TxtRecord

        group, zone, relative = self._where(name)
        if not strings:
            if old is not None:
                self._call(f"{what} {name}", self.client.record_sets.delete, group, zone, relative, "TXT",
                           if_match=old.etag)
            return None
        record_set = RecordSet(ttl=old.ttl if old is not None else int(self.settings.get("ttl", 3600)),
                               metadata=old.metadata if old is not None else None,
                               txt_records=[TxtRecord(value=list(s)) for s in strings])
        condition = {"if_match": old.etag} if old is not None else {"if_none_match": "*"}
        return self._call(f"{what} {name}", self.client.record_sets.create_or_update, group, zone, relative, "TXT",
                          record_set, **condition)

    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        read = []
        for change in changes:
            old = self._get(change.name)
            strings = [tuple(r.value or ()) for r in (old.txt_records or [])] if old else []
            values = ["".join(s) for s in strings]
            if not same_values(values, change.before):
                raise ConflictError(change.name, change.before, values)
            wanted = list(change.after)
            kept = []
            for value, layout in zip(values, strings, strict=True):
                if value in wanted:  # unchanged: its exact character-strings kept
                    wanted.remove(value)
                    kept.append(layout)
            read.append((change, old, strings, kept + [tuple(change.strings_for(v)) for v in wanted]))
        written = []  # (change, the set before, the set now)
        for change, old, _, new in read:
            try:
                written.append((change, old, self._write(change.name, old, new, "writing")))
            except _Refused:
                self._undo(written)
                raise ConflictError(change.name, change.before) from None
        self.read_back(changes)

    def _undo(self, written: list) -> None:
        """Put back the names already written, newest first, each on the condition that it is still ours."""
        failed = []
        for change, old, new in reversed(written):
            strings = [tuple(r.value or ()) for r in (old.txt_records or [])] if old else []
            try:  # on the condition that the name holds what we wrote (absent, when we deleted it)
                self._write(change.name, new, strings, "restoring")
            except (_Refused, ProviderError):
                failed.append(change.name)
        if failed:
            raise ProviderError(f"azure: a name changed while the plan was written, and {', '.join(failed)} could "
                                "not be put back (changed again by someone else?): restore from the backup with "
                                "`spfguard rollback`")

    def authoritative(self, domain: str) -> list[str]:
        if self.verify_through_api:
            return []
        group, zone, _ = self._where(domain)
        found = self._call(f"reading the zone {zone}", self.client.zones.get, group, zone)
        return [ns.rstrip(".") for ns in (found.name_servers or [])]


def _configured_credential(message: str) -> str | None:
    """From DefaultAzureCredential's failure, the reason of the credential that was configured (the environment's
    client secret, when AZURE_TENANT_ID/AZURE_CLIENT_ID are set) — not "set AZURE_TENANT_ID" when it is set."""
    if not (os.environ.get("AZURE_TENANT_ID") and os.environ.get("AZURE_CLIENT_ID")):
        return None
    for line in message.splitlines():
        line = line.strip(" -")
        if line.startswith("EnvironmentCredential:") and "unavailable" not in line.lower():
            reason = line.removeprefix("EnvironmentCredential:").strip()
            host = os.environ.get("AZURE_AUTHORITY_HOST", "login.microsoftonline.com")
            return (f"the environment's credential (AZURE_TENANT_ID, AZURE_CLIENT_ID) could not get a token from "
                    f"{host}: {redact(reason)[:300]}")
    return None


def _group_of(resource_id: str | None) -> str:
    match = _GROUP.search(resource_id or "")
    return match.group(1) if match else ""
