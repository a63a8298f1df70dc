"""A local stand-in for Azure Resource Manager's DNS API (``Microsoft.Network/dnsZones``, api-version 2018-05-01)
over HTTPS, with an App Service managed-identity token endpoint, so that the official SDK and
``DefaultAzureCredential`` run unchanged against it.

What it reproduces: zones by subscription and resource group, TXT record sets with an etag that changes on every
write, ``If-Match`` / ``If-None-Match: *`` answered with 412 ``PreconditionFailed``, a delete with ``If-Match``,
404 ``NotFound`` for a missing set and ``ParentResourceNotFound`` for a missing zone, 401 without the bearer token,
429 with ``Retry-After``, Azure's limit of 1024 characters per TXT string.
What it does not: other record types, Azure AD token validation (any token it issued is good), RBAC (403),
resource locks, per-subscription throttling quotas, the propagation of a change to Azure's nameservers, private
zones, long-running operations and paging (every list fits one page)."""

from __future__ import annotations

import re
import secrets
import time
import uuid

from tests.support.jsonapi import JsonApi

_ZONES = re.compile(r"^/subscriptions/([^/]+)(?:/resourceGroups/([^/]+))?/providers/Microsoft\.Network/dnszones$", re.I)
_ZONE = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Network/dnszones/([^/]+)"
                   r"(?:/(TXT)/([^/]+))?$", re.I)


class AzureArm(JsonApi):
    def __init__(self, subscription: str, zones: dict[str, str], tls):
        """``zones``: zone name -> resource group."""
        self.subscription, self.zones = subscription, zones
        self.identity_header = secrets.token_hex(8)
        self.sets: dict[tuple[str, str], dict] = {}  # (zone, relative name) -> {"etag", "ttl", "metadata", "txt"}
        self.before_write = None  # called (method, zone, relative) before a PUT/DELETE is decided: a concurrent edit
        super().__init__(token="azure-test-token-" + secrets.token_hex(12), tls=tls)

    # ---- behind the provider's back -----------------------------------------------------------------------

    def put(self, zone: str, relative: str, strings: list[list[str]], ttl: int = 3600) -> None:
        with self.lock:
            if strings:
                old = self.sets.get((zone, relative), {})
                self.sets[(zone, relative)] = {"etag": str(uuid.uuid4()), "ttl": ttl, "txt": strings,
                                               "metadata": old.get("metadata")}
            else:
                self.sets.pop((zone, relative), None)

    def txt(self, zone: str, relative: str) -> list[list[str]]:
        return self.sets.get((zone, relative), {}).get("txt", [])

    # ---- the API ------------------------------------------------------------------------------------------

    def unauthenticated(self, path: str) -> bool:
        return path == "/msi/token"

    def _zone_json(self, name: str) -> dict:
        group = self.zones[name]
        return {"id": f"/subscriptions/{self.subscription}/resourceGroups/{group}/providers/Microsoft.Network/"
                      f"dnszones/{name}", "name": name, "type": "Microsoft.Network/dnszones", "location": "global",
                "etag": "00000000-0000-0000-0000-000000000000",
                "properties": {"nameServers": ["ns1-01.azure-dns.com.", "ns2-01.azure-dns.net."],
                               "zoneType": "Public", "numberOfRecordSets": 2}}

    def _set_json(self, zone: str, relative: str) -> dict:
        record_set = self.sets[(zone, relative)]
        group = self.zones[zone]
        return {"id": f"/subscriptions/{self.subscription}/resourceGroups/{group}/providers/Microsoft.Network/"
                      f"dnszones/{zone}/TXT/{relative}", "name": relative, "type": "Microsoft.Network/dnszones/TXT",
                "etag": record_set["etag"],
                "properties": {"TTL": record_set["ttl"], "fqdn": f"{relative}.{zone}.".removeprefix("@."),
                               "provisioningState": "Succeeded", "metadata": record_set.get("metadata"),
                               "TXTRecords": [{"value": s} for s in record_set["txt"]]}}

    def route(self, method, path, query, headers, body):
        if path == "/msi/token":
            if headers.get("x-identity-header") != self.identity_header:
                return 400, {"error": "invalid_request", "error_description": "X-IDENTITY-HEADER"}, {}
            return 200, {"access_token": self.token, "expires_on": str(int(time.time()) + 3600),
                         "resource": query.get("resource", ""), "token_type": "Bearer"}, {}
        if query.get("api-version") != "2018-05-01":
            return 400, self.error(400, "InvalidApiVersionParameter", query.get("api-version", "")), {}
        listing = _ZONES.match(path)
        if listing and method == "GET":
            if listing.group(1) != self.subscription:
                return 404, self.error(404, "SubscriptionNotFound", listing.group(1)), {}
            group = listing.group(2)
            return 200, {"value": [self._zone_json(z) for z, g in self.zones.items()
                                   if group is None or g.lower() == group.lower()]}, {}
        match = _ZONE.match(path)
        if not match or match.group(1) != self.subscription:
            return 404, self.error(404, "NotFound", path), {}
        _, group, zone, kind, relative = match.groups()
        zone = zone.lower()
        if zone not in self.zones or self.zones[zone].lower() != group.lower():
            return 404, self.error(404, "ParentResourceNotFound", f"zone {zone} not found"), {}
        if kind is None:
            return (200, self._zone_json(zone), {}) if method == "GET" else (405, None, {})
        relative = relative.lower()
        if method != "GET" and self.before_write is not None:
            self.before_write(method, zone, relative)
        current = self.sets.get((zone, relative))
        if method == "GET":
            return (200, self._set_json(zone, relative), {}) if current else \
                (404, self.error(404, "NotFound", f"The resource record '{relative}' does not exist"), {})
        if not self._precondition(current, headers):
            return 412, self.error(412, "PreconditionFailed", "The condition specified using HTTP conditional "
                                                             "header(s) is not met."), {}
        if method == "DELETE":
            self.sets.pop((zone, relative), None)
            return (200 if current else 204), None, {}
        if method != "PUT":
            return 405, None, {}
        strings = [r.get("value", []) for r in body.get("properties", {}).get("TXTRecords", [])]
        if not strings or any(not s or any(len(x) > 1024 for x in s) for s in strings):
            return 400, self.error(400, "BadRequest", "TXT strings: 1 to 1024 characters each"), {}
        self.sets[(zone, relative)] = {"etag": str(uuid.uuid4()), "ttl": body["properties"].get("TTL", 3600),
                                       "metadata": body["properties"].get("metadata"), "txt": strings}
        return (200 if current else 201), self._set_json(zone, relative), {}

    @staticmethod
    def _precondition(current: dict | None, headers: dict) -> bool:
        if headers.get("if-none-match") == "*" and current is not None:
            return False
        if "if-match" in headers:
            return current is not None and headers["if-match"].strip('"') == current["etag"]
        return True
