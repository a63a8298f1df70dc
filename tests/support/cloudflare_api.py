"""A local HTTP server speaking the Cloudflare v4 API envelope for the endpoints spfguard uses:
zones (list, get) and DNS records (list, create, edit/PATCH, update/PUT, delete). It can answer 429 a given
number of times first (with Retry-After), and answers 403 to a token without DNS edit rights."""

from __future__ import annotations

import copy
import http.server
import itertools
import json
import threading
import time
import urllib.parse

GOOD_TOKEN = "cf-test-token-0123456789abcdefABCDEF"
READ_ONLY_TOKEN = "cf-read-only-token-9876543210"


class CloudflareApi:
    def __init__(self, zones: dict[str, str]):
        """``zones``: zone name -> zone id."""
        self.zones = zones
        self.records: dict[str, dict] = {}  # id -> record
        self.requests: list[tuple[str, str]] = []
        self.throttle = 0  # answer 429 to this many next requests
        self.misbehave: str | None = None  # "trickle" (one byte every 0.5 s) or "hang" (never answer)
        self.frozen: dict[str, dict] | None = None  # reads answer from this copy (a lagging API), writes go on
        self.fail_batch_after: int | None = None  # a batch fails after this many of its operations (then rolled back)
        self.batches: list[dict] = []
        self._ids = itertools.count(1)
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's httpx client expects

            def log_message(self, *args):
                pass

            def _send(self, status, body, headers=()):
                data = json.dumps(body).encode()
                if api.misbehave == "hang":
                    time.sleep(30)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                if api.misbehave == "trickle":
                    for i in range(len(data)):
                        time.sleep(0.5)
                        try:
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                        except OSError:
                            return
                    return
                self.wfile.write(data)

            def _handle(self, method):
                api.requests.append((method, self.path))
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if api.throttle > 0:
                    api.throttle -= 1
                    return self._send(429, envelope(None, [{"code": 971, "message": "Please wait and consider "
                                                             "throttling your request speed"}]), [("Retry-After", "0")])
                if token not in (GOOD_TOKEN, READ_ONLY_TOKEN):
                    return self._send(401, envelope(None, [{"code": 10000, "message": "Authentication error"}]))
                if token == READ_ONLY_TOKEN and method != "GET":
                    return self._send(403, envelope(None, [{"code": 10000, "message": "Authentication error"}]))
                status, result, info = api.route(method, url.path, query, body)
                if isinstance(result, list) and int(query.get("page", 1)) > 1:
                    result, info = [], page([])  # everything fits on page 1
                if status == 400:
                    return self._send(400, envelope(None, [{"code": 81058, "message": result["error"]}]))
                return self._send(status, envelope(result, [] if status < 400 else [{"code": 7003,
                                                                                   "message": "Not found"}], info))

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

            def do_PATCH(self):  # noqa: N802
                self._handle("PATCH")

            def do_PUT(self):  # noqa: N802
                self._handle("PUT")

            def do_DELETE(self):  # noqa: N802
                self._handle("DELETE")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/client/v4"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()

    def add(self, name: str, content: str, zone_id: str | None = None) -> dict:
        zone_id = zone_id or next(i for z, i in self.zones.items() if name == z or name.endswith("." + z))
        record = {"id": f"rec{next(self._ids):06d}", "zone_id": zone_id, "name": name, "type": "TXT",
                  "content": content, "ttl": 1, "proxied": False, "proxiable": False, "comment": None, "tags": [],
                  "settings": {}, "meta": {}, "created_on": "2026-11-26T00:00:00Z",
                  "modified_on": "2026-11-26T00:00:00Z"}
        self.records[record["id"]] = record
        return record

    def batch(self, zone_id: str, body: dict):
        return _batch(self, zone_id, body)

    def txt(self, name: str) -> list[str]:
        return sorted(r["content"] for r in self.records.values() if r["name"] == name)

    def route(self, method, path, query, body):
        parts = path.removeprefix("/client/v4/").strip("/").split("/")
        if parts == ["zones"] and method == "GET":
            found = [{"id": i, "name": z, "name_servers": ["ns1.example.invalid", "ns2.example.invalid"],
                      "status": "active"} for z, i in self.zones.items() if query.get("name") in (None, z)]
            return 200, found, page(found)
        if len(parts) == 2 and parts[0] == "zones":
            zone = next(({"id": i, "name": z, "name_servers": []} for z, i in self.zones.items() if i == parts[1]),
                        None)
            return (200, zone, None) if zone else (404, None, None)
        if len(parts) >= 3 and parts[0] == "zones" and parts[2] == "dns_records":
            zone_id = parts[1]
            if zone_id not in self.zones.values():
                return 404, None, None
            if parts[3:] == ["batch"] and method == "POST":
                return self.batch(zone_id, body)
            if len(parts) == 3 and method == "GET":
                name = query.get("name.exact") or query.get("name")
                records = self.records if self.frozen is None else self.frozen
                found = [r for r in records.values() if r["zone_id"] == zone_id
                         and (name is None or r["name"] == name) and query.get("type") in (None, r["type"])]
                return 200, found, page(found)
            if len(parts) == 3 and method == "POST":
                record = self.add(body["name"], body["content"], zone_id)
                record["ttl"] = body.get("ttl", 1)
                return 200, record, None
            record = self.records.get(parts[3]) if len(parts) == 4 else None
            if record is None:
                return 404, None, None
            if method in ("PATCH", "PUT"):
                record.update({k: v for k, v in body.items() if k in ("name", "content", "ttl", "comment")})
                return 200, record, None
            if method == "DELETE":
                del self.records[record["id"]]
                return 200, {"id": record["id"]}, None
        return 404, None, None


def _batch(api: CloudflareApi, zone_id: str, body: dict):
    """POST /zones/{id}/dns_records/batch: deletes, patches, puts, posts — in that order, all or nothing."""
    api.batches.append(body)
    saved = copy.deepcopy(api.records)
    done = {"deletes": [], "patches": [], "puts": [], "posts": []}
    count = 0
    try:
        for kind in ("deletes", "patches", "puts", "posts"):
            for op in body.get(kind) or []:
                if api.fail_batch_after is not None and count >= api.fail_batch_after:
                    raise LookupError("batch operation failed (injected)")
                count += 1
                if kind == "posts":
                    record = api.add(op["name"], op["content"], zone_id)
                    record["ttl"] = op.get("ttl", 1)
                    done[kind].append(record)
                    continue
                record = api.records.get(op["id"])
                if record is None or record["zone_id"] != zone_id:
                    raise LookupError(f"record {op['id']} not found")
                if kind == "deletes":
                    del api.records[op["id"]]
                    done[kind].append({"id": op["id"]})
                else:
                    record.update({k: v for k, v in op.items() if k in ("name", "content", "ttl", "comment")})
                    done[kind].append(record)
    except LookupError as err:
        api.records = saved  # one transaction: nothing of the batch stays
        return 400, {"error": str(err)}, None
    return 200, done, None


def envelope(result, errors, info=None):
    body = {"success": not errors, "errors": errors, "messages": [], "result": result}
    if info:
        body["result_info"] = info
    return body


def page(items):
    return {"page": 1, "per_page": 100, "count": len(items), "total_count": len(items), "total_pages": 1}
