"""A small threaded JSON-over-HTTP(S) server for local stand-ins of cloud DNS APIs (Azure's ARM, Google Cloud
DNS): subclasses implement :meth:`JsonApi.route`; the base logs requests, checks the bearer token, can answer
429 with Retry-After a given number of times, and serves TLS when given a context."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import urllib.parse


def parse_body(headers: dict, raw: bytes):
    """JSON, or a form (an OAuth token request), or None."""
    if not raw:
        return None
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(urllib.parse.parse_qsl(raw.decode()))
    return json.loads(raw)


class JsonApi:
    def __init__(self, token: str, tls: ssl.SSLContext | None = None):
        self.token = token
        self.requests: list[tuple[str, str, dict]] = []  # method, path, headers
        self.throttle = 0  # answer 429 to this many next requests
        self.lock = threading.RLock()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self, method):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                api.requests.append((method, self.path, headers))
                extra: dict[str, str] = {}
                with api.lock:
                    if api.throttle > 0 and not api.unauthenticated(url.path):
                        api.throttle -= 1
                        status, body, extra = 429, api.error(429, "TooManyRequests", "throttled"), {"Retry-After": "1"}
                    elif not api.unauthenticated(url.path) and headers.get("authorization") != f"Bearer {api.token}":
                        status, body = 401, api.error(401, "AuthenticationFailed", "invalid bearer token")
                    else:
                        try:
                            status, body, extra = api.route(method, url.path, query, headers, parse_body(headers, raw))
                        except Exception as err:  # noqa: BLE001 - a bug in the stand-in is a 500 with the reason
                            status, body = 500, api.error(500, "InternalError", f"{type(err).__name__}: {err}")
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

            def do_PUT(self):  # noqa: N802
                self._handle("PUT")

            def do_PATCH(self):  # noqa: N802
                self._handle("PATCH")

            def do_DELETE(self):  # noqa: N802
                self._handle("DELETE")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def unauthenticated(self, path: str) -> bool:
        """Paths that need no bearer token (a token endpoint)."""
        return False

    def error(self, status: int, code: str, message: str) -> dict:
        return {"error": {"code": code, "message": message}}

    def route(self, method: str, path: str, query: dict, headers: dict, body) -> tuple[int, object, dict]:
        raise NotImplementedError

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
