"""Start a real PowerDNS Authoritative server (Debian packages ``pdns-server`` + ``pdns-backend-sqlite3``) on
loopback ports: DNS on one, the HTTP API (with an API key) on another, zones in an SQLite database created from
the package's schema."""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.knot import free_port
from tests.support.system import stop_process

# the package installs its schema twice; minimal images often leave /usr/share/doc out
SCHEMAS = [Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"),
           Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql")]
SCHEMA = next((p for p in SCHEMAS if p.exists()), SCHEMAS[0])


@dataclass
class PdnsServer:
    binary: str
    workdir: Path
    zones: list[str]
    api_key: str = field(default_factory=lambda: secrets.token_hex(16))
    dns_port: int = 0
    api_port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def dns_address(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def start(self) -> PdnsServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        database = self.workdir / "pdns.sqlite3"
        with sqlite3.connect(database) as db:
            db.executescript(SCHEMA.read_text())
        self.dns_port, self.api_port = free_port(), free_port()
        (self.workdir / "pdns.conf").write_text(
            "launch=gsqlite3\n"
            f"gsqlite3-database={database}\n"
            "local-address=127.0.0.1\n"
            f"local-port={self.dns_port}\n"
            f"socket-dir={self.workdir}\n"
            "api=yes\n"
            f"api-key={self.api_key}\n"
            "webserver=yes\n"
            "webserver-address=127.0.0.1\n"
            f"webserver-port={self.api_port}\n"
            "webserver-allow-from=127.0.0.0/8\n"
            "security-poll-suffix=\nguardian=no\ndaemon=no\ndisable-syslog=yes\nloglevel=4\n"
            "cache-ttl=0\nnegquery-cache-ttl=0\nquery-cache-ttl=0\nzone-cache-refresh-interval=0\n"
            "default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 300\n")
        log = (self.workdir / "pdns.log").open("w")
        self.process = subprocess.Popen([self.binary, f"--config-dir={self.workdir}"], stdout=log, stderr=log)
        self._wait_ready()
        for zone in self.zones:
            self.api("POST", "/api/v1/servers/localhost/zones",
                     {"name": zone.rstrip(".") + ".", "kind": "Native", "nameservers": [f"ns1.{zone.rstrip('.')}."]})
        return self

    def api(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(self.url + path, method=method, headers={"X-API-Key": self.api_key},
                                         data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=10) as response:
            data = response.read()
        return json.loads(data) if data else None

    def set_txt(self, name: str, values: list[str], zone: str) -> None:
        """Behind the provider's back: another admin using the API."""
        fqdn = name.rstrip(".") + "."
        records = [{"content": " ".join('"' + v[i:i + 255].replace('"', '\\"') + '"'
                                        for i in range(0, max(len(v), 1), 255)), "disabled": False} for v in values]
        rrset = {"name": fqdn, "type": "TXT", "ttl": 300, "changetype": "REPLACE" if values else "DELETE",
                 "records": records}
        self.api("PATCH", f"/api/v1/servers/localhost/zones/{zone.rstrip('.')}.", {"rrsets": [rrset]})

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pdns_server exited: {self.log()[-2000:]}")
            try:
                self.api("GET", "/api/v1/servers/localhost")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError(f"pdns_server did not answer within {timeout}s:\n{self.log()[-2000:]}")

    def log(self) -> str:
        path = self.workdir / "pdns.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
