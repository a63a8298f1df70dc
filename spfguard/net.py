"""Network steps with a **total** deadline. A socket timeout bounds each read, so a server that trickles one
byte a second, or sends an endless ``220-`` banner, can hold a step for ever; :class:`Deadline` shuts the socket
down when the step's total time is up, which ends any blocked read at once.

``http_request`` is the one HTTP client for webhooks and the Microsoft endpoint service.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable


class DeadlineExceeded(TimeoutError):
    pass


class Deadline:
    """``with Deadline(10, "webhook", lambda: conn.sock):`` — at most 10 s in all for the block."""

    def __init__(self, seconds: float, what: str, socket_of: Callable[[], socket.socket | None]):
        self.seconds, self.what, self._socket_of = seconds, what, socket_of
        self.expired = False
        self.started = time.monotonic()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(0.05, self.seconds - (time.monotonic() - self.started))

    def _expire(self) -> None:
        self.expired = True
        sock = self._socket_of()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # unblocks a read in another thread, unlike close()
            except OSError:
                pass

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, kind, value, tb) -> None:
        self._timer.cancel()
        if self.expired:
            raise DeadlineExceeded(f"{self.what}: no complete answer within {self.seconds:g}s") from None


def call_with_deadline(fn: Callable[[], object], seconds: float, what: str,
                       abort: Callable[[], None] | None = None) -> object:
    """``fn()`` with a total deadline, for SDK calls whose own timeouts bound each read but not the whole call
    (retries and a trickling server included). The call runs in a worker thread; past the deadline ``abort``
    (e.g. closing the SDK's client, which ends its request) is called and :class:`DeadlineExceeded` raised."""
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = err

    worker = threading.Thread(target=work, name=f"call: {what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        if abort is not None:
            abort()
        raise DeadlineExceeded(f"{what}: no complete answer within {seconds:g}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def http_request(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None,
                 timeout: float = 15.0, context: ssl.SSLContext | None = None,
                 max_body: int = 64 * 1024 * 1024, method: str | None = None) -> tuple[int, bytes]:
    """GET (or POST with ``data``, or ``method``) ``url``; returns (status, body). Raises OSError
    (DeadlineExceeded included)."""
    parts = urllib.parse.urlsplit(url)
    per_read = timeout + 1  # the total deadline below decides; a single read never outlasts it
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=per_read,
                                           context=context or ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=per_read)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        with Deadline(timeout, parts.netloc, lambda: conn.sock):
            conn.request(method or ("POST" if data is not None else "GET"), path, body=data,
                         headers={"User-Agent": "spfguard", **(headers or {})})
            response = conn.getresponse()
            body = response.read(max_body + 1)
            if len(body) > max_body:
                raise OSError(f"{parts.netloc}: the answer is larger than {max_body:,} bytes")
            return response.status, body
    except (http.client.HTTPException, ssl.SSLError) as err:
        raise OSError(f"{parts.netloc}: {type(err).__name__}: {err}") from None
    finally:
        conn.close()
