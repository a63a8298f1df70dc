"""A local HTTP server that records webhook POSTs (their JSON, headers and path); it can answer slowly, call a
hook when a request arrives (say, to kill the sender mid-send), or answer with another status."""

from __future__ import annotations

import http.server
import json
import threading
import time


class WebhookReceiver:
    def __init__(self, delay: float = 0.0, on_post=None, status: int = 200, body: bytes = b"ok",
                 content_type: str = "text/plain"):
        self.posts: list[dict] = []  # the JSON bodies
        self.requests: list[dict] = []  # every request: path, headers, raw body
        self.delay, self.on_post, self.status = delay, on_post, status
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                                              "body": body})
                    try:
                        receiver.posts.append(json.loads(body))
                    except ValueError:
                        pass
                if receiver.on_post is not None:
                    receiver.on_post(self)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST  # noqa: N815 - a heartbeat may ping with GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
