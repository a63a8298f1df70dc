"""A local stand-in for the Google Cloud DNS v1 REST API (``/dns/v1/projects/…``) and Google's OAuth token
endpoint, so that the official ``google-cloud-dns`` client and ``google-auth``'s Application Default Credentials
(a service-account key file whose ``token_uri`` points here) run unchanged against it.

What it reproduces: managed zones (public and private) with their nameservers, ``rrsets.list`` filtered by name
and type, ``changes.create`` applied atomically — every deletion must match the live set exactly (TTL and
rrdatas) or the whole Change is refused with 412 ``conditionNotMet``, an addition over an existing set is 409
``alreadyExists`` — changes that stay ``pending`` for a given number of reads before ``done``, 401 without the
bearer token, 429 a given number of times.
What it does not: other record types' validation, rrdata canonicalisation (rrdatas are kept as sent), IAM (403),
quotas, paging (every list fits one page), DNSSEC, routing policies, the propagation to Google's nameservers."""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import secrets
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.jsonapi import JsonApi

_PATH = re.compile(r"^/dns/v1/projects/([^/]+)/managedZones(?:/([^/]+)(?:/(rrsets|changes)(?:/([^/]+))?)?)?$")


class CloudDnsApi(JsonApi):
    def __init__(self, project: str, zones: dict[str, str], private: tuple[str, ...] = ()):
        """``zones``: managed zone name -> DNS name (``example.com.``); ``private``: names of private zones."""
        self.project, self.zones, self.private = project, zones, private
        self.client_email = f"spfguard@{project}.iam.gserviceaccount.com"
        self.private_key = _rsa_key()
        self.rrsets: dict[tuple[str, str], dict] = {}  # (zone, name) -> {"name", "type", "ttl", "rrdatas"}
        self.changes: list[dict] = []
        self.pending_reads = 1  # a new Change answers "pending" this many times before "done"
        self.before_change = None  # called before a Change is decided: a concurrent edit
        self._ids = itertools.count(1)
        super().__init__(token="ya29.test-" + secrets.token_hex(12))

    def credentials_file(self, path, client_email: str | None = None) -> None:
        """A service-account key file, as the console downloads it, with the token endpoint here."""
        path.write_text(json.dumps({
            "type": "service_account", "project_id": self.project, "private_key_id": "0123456789abcdef",
            "private_key": self.private_key, "client_email": client_email or self.client_email,
            "client_id": "1234567890", "token_uri": f"{self.url}/token"}))

    # ---- behind the provider's back --------------------------------------------------------------------

    def put(self, zone: str, name: str, rrdatas: list[str], ttl: int = 300) -> None:
        with self.lock:
            if rrdatas:
                self.rrsets[(zone, name)] = {"kind": "dns#resourceRecordSet", "name": name, "type": "TXT",
                                             "ttl": ttl, "rrdatas": list(rrdatas)}
            else:
                self.rrsets.pop((zone, name), None)

    def rrdatas(self, zone: str, name: str) -> list[str]:
        return self.rrsets.get((zone, name), {}).get("rrdatas", [])

    # ---- the API -----------------------------------------------------------------------------------------

    def unauthenticated(self, path: str) -> bool:
        return path == "/token"

    def error(self, status: int, code: str, message: str) -> dict:
        return {"error": {"code": status, "message": message, "errors": [{"reason": code, "message": message}]}}

    def route(self, method, path, query, headers, body):
        if path == "/token":  # RFC 7523: a JWT signed with the key, whose issuer is the service account
            claims = _jwt_claims((body or {}).get("assertion", ""))
            if body.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or \
                    claims.get("iss") != self.client_email:
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, {}
            return 200, {"access_token": self.token, "expires_in": 3599, "token_type": "Bearer"}, {}
        match = _PATH.match(path)
        if not match or match.group(1) != self.project:
            return 404, self.error(404, "notFound", f"The requested resource '{path}' was not found"), {}
        _, zone, kind, ident = match.groups()
        if zone is None:
            return 200, {"kind": "dns#managedZonesListResponse",
                         "managedZones": [self._zone_json(z) for z in self.zones]}, {}
        if zone not in self.zones:
            return 404, self.error(404, "notFound", f"The 'parameters.managedZone' resource named '{zone}' does "
                                                    "not exist."), {}
        if kind is None:
            return 200, self._zone_json(zone), {}
        if kind == "rrsets" and method == "GET":
            found = [r for (z, n), r in self.rrsets.items() if z == zone and n == query.get("name", n)
                     and r["type"] == query.get("type", r["type"])]
            return 200, {"kind": "dns#resourceRecordSetsListResponse", "rrsets": copy.deepcopy(found)}, {}
        if kind == "changes" and method == "POST":
            return self._create_change(zone, body or {})
        if kind == "changes" and method == "GET" and ident:
            change = next((c for c in self.changes if c["id"] == ident), None)
            if change is None:
                return 404, self.error(404, "notFound", f"change {ident}"), {}
            if change["status"] == "pending":
                change["reads"] += 1
                if change["reads"] > self.pending_reads:
                    change["status"] = "done"
            return 200, {k: v for k, v in change.items() if k != "reads"}, {}
        return 405, self.error(405, "methodNotAllowed", method), {}

    def _zone_json(self, zone: str) -> dict:
        return {"kind": "dns#managedZone", "name": zone, "dnsName": self.zones[zone], "id": str(abs(hash(zone))),
                "nameServers": ["ns-cloud-a1.googledomains.com.", "ns-cloud-a2.googledomains.com."],
                "visibility": "private" if zone in self.private else "public", "description": ""}

    def _create_change(self, zone: str, body: dict):
        if self.before_change is not None:
            self.before_change()
        additions, deletions = body.get("additions", []), body.get("deletions", [])
        live = {n: r for (z, n), r in self.rrsets.items() if z == zone}
        for deletion in deletions:
            current = live.get(deletion["name"])
            # int64 fields travel as JSON strings in Google's APIs (the client sends "ttl": "300")
            exact = current is not None and current["type"] == deletion["type"] and \
                current["ttl"] == int(deletion.get("ttl", -1)) and current["rrdatas"] == deletion.get("rrdatas")
            if not exact:
                return 412, self.error(412, "conditionNotMet", f"Precondition not met for 'entity.change.deletions"
                                                               f"[{deletion['name']}][{deletion['type']}]'"), {}
        remaining = {n for n in live if n not in {d["name"] for d in deletions}}
        for addition in additions:
            if addition["name"] in remaining:
                return 409, self.error(409, "alreadyExists", f"The resource 'entity.change.additions"
                                                             f"[{addition['name']}][TXT]' named already exists"), {}
            if not addition.get("rrdatas"):
                return 400, self.error(400, "invalid", "rrdatas: empty"), {}
        for deletion in deletions:  # all checks passed: apply the whole Change
            self.rrsets.pop((zone, deletion["name"]), None)
        for addition in additions:
            self.put(zone, addition["name"], addition["rrdatas"], int(addition.get("ttl", 300)))
        change = {"kind": "dns#change", "id": str(next(self._ids)), "status": "pending", "reads": 0,
                  "startTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                  "additions": additions, "deletions": deletions}
        self.changes.append(change)
        return 200, {k: v for k, v in change.items() if k != "reads"}, {}


def _rsa_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _jwt_claims(token: str) -> dict:
    """The claims of a JWT (the signature is not checked: the stand-in trusts whoever has the file)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
