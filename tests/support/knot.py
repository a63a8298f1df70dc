"""Start a real Knot DNS authoritative server (``knotd``) on a loopback port, with TSIG-authorised updates."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from tests.support.system import stop_process

TSIG_NAME = "spfguard-test."
TSIG_ALGORITHM = "hmac-sha256"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


@dataclass
class KnotServer:
    knotd: str
    workdir: Path
    zones: dict[str, Path]  # origin -> zone file
    port: int = 0
    process: subprocess.Popen | None = None
    tsig_secret: str = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> KnotServer:
        self.port = self.port or free_port()
        self.tsig_secret = base64.b64encode(os.urandom(32)).decode()
        zonedir = self.workdir / "zones"
        zonedir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "db").mkdir(exist_ok=True)
        for origin, path in self.zones.items():
            shutil.copy(path, zonedir / f"{origin}.zone")
        conf = self.workdir / "knot.conf"
        zone_lines = "\n".join(f"  - domain: {origin}\n    acl: [update]" for origin in self.zones)
        conf.write_text(f"""
server:
    listen: 127.0.0.1@{self.port}
    rundir: "{self.workdir}"
    udp-workers: 2
    tcp-workers: 2
    background-workers: 1
log:
  - target: "{self.workdir / 'knot.log'}"
    any: info
key:
  - id: {TSIG_NAME}
    algorithm: {TSIG_ALGORITHM}
    secret: {self.tsig_secret}
acl:
  - id: update
    key: {TSIG_NAME}
    action: update
database:
    storage: "{self.workdir / 'db'}"
template:
  - id: default
    storage: "{zonedir}"
    file: "%s.zone"
    zonefile-sync: 0
    semantic-checks: off
zone:
{zone_lines}
""")
        self.process = subprocess.Popen([self.knotd, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        origin = next(iter(self.zones))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"knotd exited: {self.process.stderr.read().decode()[-2000:]}\n"
                                   f"{self.log()[-2000:]}")
            try:
                response = dns.query.udp(dns.message.make_query(origin, "SOA"), "127.0.0.1", port=self.port,
                                         timeout=0.3)
                if response.rcode() == dns.rcode.NOERROR and response.answer:
                    return
            except (OSError, dns.exception.Timeout):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"knotd did not answer within {timeout}s:\n{self.log()[-2000:]}")

    def log(self) -> str:
        path = self.workdir / "knot.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
