"""Small hostile servers on loopback: one that trickles its answer a byte at a time, one that accepts and never
answers, SMTP servers with an endless ``220-`` banner or an endless EHLO reply. Each runs in a thread and stops
with :meth:`stop`; every connection thread ends when the server stops."""

from __future__ import annotations

import socket
import threading
import time

HTTP_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class HostileServer:
    def __init__(self, behaviour: str, payload: bytes = HTTP_OK, interval: float = 0.5):
        """``behaviour``: trickle (send ``payload`` one byte per ``interval``), silent, endless-banner,
        endless-ehlo."""
        self.behaviour, self.payload, self.interval = behaviour, payload, interval
        self.stopped = threading.Event()
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _pace(self, conn: socket.socket, data: bytes) -> bool:
        for i in range(len(data)):
            if self.stopped.wait(self.interval):
                return False
            try:
                conn.sendall(data[i:i + 1])
            except OSError:
                return False
        return True

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        try:
            if self.behaviour == "trickle":
                self._read_request(conn)
                self._pace(conn, self.payload)
            elif self.behaviour == "endless-banner":
                while self._pace(conn, b"220-still greeting you\r\n"):
                    pass
            elif self.behaviour == "endless-ehlo":
                conn.sendall(b"220 ready\r\n")
                self._read_line(conn)
                while self._pace(conn, b"250-more capabilities\r\n"):
                    pass
            while not self.stopped.wait(0.2):  # silent, or done: hold the connection open
                pass
        finally:
            conn.close()

    def _read_request(self, conn: socket.socket) -> None:
        data = b""
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in data and time.monotonic() < deadline and not self.stopped.is_set():
            try:
                chunk = conn.recv(65536)
            except (TimeoutError, OSError):
                continue
            if not chunk:
                return
            data += chunk

    def _read_line(self, conn: socket.socket) -> None:
        data = b""
        while b"\n" not in data and not self.stopped.is_set():
            try:
                data += conn.recv(1024)
            except (TimeoutError, OSError):
                continue

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()
