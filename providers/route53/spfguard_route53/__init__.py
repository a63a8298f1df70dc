"""Amazon Route 53 provider for spfguard (boto3).

Credentials come from boto3's default chain (environment, shared profiles — ``profile`` setting —, instance
roles); ``AWS_ENDPOINT_URL`` is honoured by boto3 itself. The hosted zone is the one whose name is the longest
suffix of the record name (or ``zone_id``).

The changes of a zone are **one** change batch: for every name, a DELETE of the exact TXT set read (its TTL and
values as Route 53 returned them) and a CREATE of the new set (a CREATE alone when there was none). Route 53
refuses the whole batch when a DELETE does not match the current set or a CREATE finds one: an atomic
compare-and-set. :meth:`wait` waits for the change to be INSYNC.

Settings (``[providers.route53]``): ``zone_id``, ``profile``, ``region`` (default us-east-1: Route 53 is
global), ``ttl`` (new sets, default 300), ``verify`` (``nameservers``, the default, or ``api``: read back through
Route 53).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spfguard.provider import (
    Change,
    ConflictError,
    IncompleteError,
    Provider,
    ProviderError,
    SettingsError,
    first_line,
    quote,
    redact,
    same_values,
    unquote,
    zone_for,
)

DEFAULT_TTL = 300


def parse_value(value: str) -> tuple[str, ...]:
    """Route 53 TXT value ('"abc" "def"', octal escapes) -> its character-strings."""
    return unquote(value, octal=True)


def format_value(strings: list[str]) -> str:
    return quote(strings)


class Route53Provider(Provider):
    name = "route53"
    settings_keys = ("zone_id", "profile", "ttl", "verify", "region")
    guarantee = "atomic compare-and-set"
    credentials = "boto3's chain: AWS_* environment, shared profile (profile = \"NAME\"), instance role"

    def __init__(self, settings=None):
        super().__init__(settings)
        self._client = None
        self._zones: dict[str, str] = {}
        self._change_ids: list[str] = []

    @property
    def client(self):
        if self._client is None:  # built on first use, never in __init__
            import boto3
            import botocore.config
            import botocore.exceptions as bex

            try:
                session = boto3.Session(profile_name=self.settings.get("profile"))
            except bex.ProfileNotFound as err:
                raise ProviderError(f"route53: {err}") from None
            # Route 53 is a global service, signed for us-east-1 whatever the session's region
            region = self.settings.get("region") or session.region_name or "us-east-1"
            config = botocore.config.Config(connect_timeout=10, read_timeout=30,
                                            retries={"max_attempts": 3, "mode": "standard"})
            self._client = session.client("route53", region_name=region, config=config)
        return self._client

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "zone_id": self.settings.get("zone_id"), "profile": self.settings.get("profile")}

    def _call(self, method: str, **kwargs):
        import botocore.exceptions as bex

        try:
            if method == "list_hosted_zones":  # every page
                return [zone for page in self.client.get_paginator(method).paginate(**kwargs)
                        for zone in page["HostedZones"]]
            return getattr(self.client, method)(**kwargs)
        except bex.NoCredentialsError:
            raise ProviderError("route53: no AWS credentials found (environment, shared profile or instance "
                                "role)") from None
        except bex.ProfileNotFound as err:
            raise ProviderError(f"route53: {err}") from None
        except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError,
                bex.ConnectionClosedError) as err:
            raise ProviderError(f"route53: cannot reach the Route 53 API: {err}") from None
        except bex.NoRegionError:  # only when a profile names an invalid region setup
            raise SettingsError("route53: no region: set region = \"us-east-1\" in [providers.route53]") from None
        except bex.PartialCredentialsError as err:
            raise ProviderError(f"route53: incomplete AWS credentials: {err}") from None
        except bex.ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            message = err.response.get("Error", {}).get("Message", "")
            if code in ("AccessDenied", "AccessDeniedException"):
                raise ProviderError(f"route53: access denied for {method}: the credentials need route53:"
                                    "ListHostedZones, ListResourceRecordSets, ChangeResourceRecordSets and "
                                    "GetChange") from None
            if code == "InvalidChangeBatch":
                raise _Conflict(message) from None
            if code in ("Throttling", "PriorRequestNotComplete"):
                raise ProviderError(f"route53: throttled ({code}); try again in a minute") from None
            raise ProviderError(f"route53: {code}: {message}") from None

    def zone_id(self, name: str) -> str:
        if self.settings.get("zone_id"):
            return self.settings["zone_id"]
        if not self._zones:
            for zone in self._call("list_hosted_zones"):
                if not zone.get("Config", {}).get("PrivateZone"):
                    self._zones[zone["Name"].rstrip(".").lower()] = zone["Id"].split("/")[-1]
        zone = zone_for(name, self._zones)
        if zone is None:
            raise ProviderError(f"route53: no public hosted zone for {name} in this account")
        return self._zones[zone]

    def list_zones(self) -> list[str]:
        """Public hosted zones only: private ones answer inside a VPC, where receivers never look."""
        return sorted(zone["Name"].rstrip(".").lower() for zone in self._call("list_hosted_zones")
                      if not zone.get("Config", {}).get("PrivateZone"))

    def zone_of(self, name: str) -> str:
        zone_id = self.zone_id(name)
        return next((z for z, i in self._zones.items() if i == zone_id), zone_id)

    def _rrset(self, name: str) -> dict | None:
        fqdn = name.rstrip(".").lower() + "."
        result = self._call("list_resource_record_sets", HostedZoneId=self.zone_id(name), StartRecordName=fqdn,
                            StartRecordType="TXT", MaxItems="1")
        for rrset in result["ResourceRecordSets"]:
            if rrset["Name"].lower() == fqdn and rrset["Type"] == "TXT":
                return rrset
        return None

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        rrset = self._rrset(name)
        return [parse_value(r["Value"]) for r in (rrset or {}).get("ResourceRecords", [])]

    def read_txt(self, name: str) -> list[str]:
        return ["".join(strings) for strings in self.read_txt_strings(name)]

    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        batch = []
        for change in changes:
            current = self._rrset(change.name)
            values = ["".join(parse_value(r["Value"])) for r in (current or {}).get("ResourceRecords", [])]
            if not same_values(values, change.before):
                raise ConflictError(change.name, change.before, values)
            if current is not None:  # the exact set as read: Route 53 refuses the batch if it changed since
                batch.append({"Action": "DELETE", "ResourceRecordSet": current})
            if change.after:
                ttl = current["TTL"] if current else int(self.settings.get("ttl", DEFAULT_TTL))
                batch.append({"Action": "CREATE", "ResourceRecordSet": {
                    "Name": change.name.rstrip(".") + ".", "Type": "TXT", "TTL": ttl,
                    "ResourceRecords": [{"Value": format_value(change.strings_for(v))} for v in change.after]}})
        if not batch:
            return
        try:
            result = self._call("change_resource_record_sets", HostedZoneId=self.zone_id(changes[0].name),
                                ChangeBatch={"Comment": "spfguard fix", "Changes": batch})
        except _Conflict as refused:
            # a concurrent edit is one reason Route 53 refuses a batch (the DELETE no longer matches); it has others
            # (a value it will not take, a name outside the zone): say which it was
            moved = next((c for c in changes if not same_values(self.read_txt(c.name), c.before)), None)
            if moved is not None:
                raise ConflictError(moved.name, moved.before, self.read_txt(moved.name)) from None
            raise ProviderError(f"route53 refused the change batch (InvalidChangeBatch): {refused.reason}; nothing "
                                "was written") from None
        self._change_ids.append(result["ChangeInfo"]["Id"])
        self.last_change_id = result["ChangeInfo"]["Id"]

    def wait(self, changes, timeout: float = 120.0) -> None:
        import botocore.exceptions as bex

        delay = 2
        waiter = self.client.get_waiter("resource_record_sets_changed")
        try:
            for change_id in self._change_ids:
                waiter.wait(Id=change_id, WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(timeout / delay))})
        except bex.WaiterError as err:
            raise IncompleteError(f"route53: written, but the change is not INSYNC after {timeout:g}s ({err}); "
                                  "check again later with `spfguard check`") from None
        finally:
            self._change_ids.clear()

    def authoritative(self, domain: str) -> list[str]:
        if self.verify_through_api:
            return []
        zone = self._call("get_hosted_zone", Id=self.zone_id(domain))
        return list(zone.get("DelegationSet", {}).get("NameServers", []))


class _Conflict(ProviderError):
    """Route 53's InvalidChangeBatch, with its own reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = redact(first_line(Exception(reason), "no reason given", limit=300))
