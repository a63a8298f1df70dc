"""Amazon Route 53 provider for spfguard (boto3).

Credentials come from boto3's default chain (environment, shared profiles — ``profile`` setting —, instance
roles); ``AWS_ENDPOINT_URL`` is honoured by boto3 itself. The hosted zone is the one whose name is the longest
suffix of the record name (or ``zone_id``). A write reads the TXT set and compares it with the plan's values,
then sends one change batch: an UPSERT of the whole TXT set (or, to remove it, a DELETE of the exact set,
which Route 53 refuses if it changed meanwhile). :meth:`wait` waits for the change to be INSYNC.

Settings (``[providers.route53]``): ``zone_id``, ``profile``, ``ttl`` (new sets, default 300),
``verify`` (``nameservers``, the default, or ``api``: read back through Route 53).
"""

from __future__ import annotations

import re
from typing import Any

from spfguard.errors import IncompleteError
from spfguard.fix.plan import Change
from spfguard.provider.base import ConflictError, Provider, ProviderError, same_values

DEFAULT_TTL = 300
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unescape(text: str) -> str:
    return re.sub(r"\\(\d{3}|.)", lambda m: chr(int(m.group(1), 8)) if m.group(1).isdigit() else m.group(1), text)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def parse_value(value: str) -> tuple[str, ...]:
    """Route 53 TXT value ('"abc" "def"') -> its character-strings."""
    strings = _QUOTED.findall(value)
    return tuple(_unescape(s) for s in strings) if strings else (value,)


def format_value(strings: list[str]) -> str:
    return " ".join(f'"{_escape(s)}"' for s in strings)


class Route53Provider(Provider):
    name = "route53"
    settings_keys = ("zone_id", "profile", "ttl", "verify", "region", "timeout")
    credentials = "boto3's chain: AWS_* environment, shared profile (profile = \"NAME\"), instance role"

    def __init__(self, settings=None):
        super().__init__(settings)
        self._client = None
        self._zones: dict[str, str] = {}
        self._change_ids: list[str] = []
        verify = self.settings.get("verify", "nameservers")
        if verify not in ("nameservers", "api"):
            raise ProviderError(f"route53: verify must be 'nameservers' or 'api', not {verify!r}")

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
            raise ProviderError("route53: no region: set region = \"us-east-1\" in [providers.route53]") from None
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
        labels = name.rstrip(".").lower().split(".")
        for i in range(len(labels)):
            zone_id = self._zones.get(".".join(labels[i:]))
            if zone_id:
                return zone_id
        raise ProviderError(f"route53: no public hosted zone for {name} in this account")

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

    def _write(self, change: Change) -> None:
        current = self._rrset(change.name)
        values = ["".join(parse_value(r["Value"])) for r in (current or {}).get("ResourceRecords", [])]
        if not same_values(values, change.before):
            raise ConflictError(change.name, change.before, values)
        if change.after:
            ttl = current["TTL"] if current else int(self.settings.get("ttl", DEFAULT_TTL))
            batch = [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": change.name.rstrip(".") + ".", "Type": "TXT", "TTL": ttl,
                "ResourceRecords": [{"Value": format_value(change.strings_for(v))} for v in change.after]}}]
        elif current is not None:
            batch = [{"Action": "DELETE", "ResourceRecordSet": current}]
        else:
            return
        try:
            result = self._call("change_resource_record_sets", HostedZoneId=self.zone_id(change.name),
                                ChangeBatch={"Comment": "spfguard fix", "Changes": batch})
        except _Conflict:
            raise ConflictError(change.name, change.before, self.read_txt(change.name)) from None
        self._change_ids.append(result["ChangeInfo"]["Id"])

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
        if self.settings.get("verify", "nameservers") == "api":
            return []
        zone = self._call("get_hosted_zone", Id=self.zone_id(domain))
        return list(zone.get("DelegationSet", {}).get("NameServers", []))


class _Conflict(ProviderError):
    pass
