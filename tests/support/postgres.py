"""A real PostgreSQL server for the tests (Debian package ``postgresql``): initdb in a temporary folder and
``postgres`` on a loopback port, as an unprivileged user (the server refuses to run as root: when the tests
run as root the server runs as ``nobody``), trust authentication on loopback only."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.knot import free_port
from tests.support.system import stop_process


def find_bin(name: str) -> str | None:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    return found


class PostgresServer:
    def __init__(self, workdir: Path | None = None):
        # a folder of its own that the unprivileged server user can reach (pytest's temporary folders are 0700)
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="spfguard-pg-"))
        os.chmod(self.workdir, 0o755)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.user = "spfguard"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/spfguard"

    def _as_server_user(self) -> list[str]:
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.geteuid() == 0 else []

    def start(self) -> PostgresServer:
        initdb, postgres = find_bin("initdb"), find_bin("postgres")
        data = self.workdir / "data"
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.workdir, 65534, 65534)
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        subprocess.run([*self._as_server_user(), initdb, "-D", str(data), "-U", self.user, "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, env=env)
        self.process = subprocess.Popen(
            [*self._as_server_user(), postgres, "-D", str(data), "-p", str(self.port), "-k", str(self.workdir),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=50"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self._wait()
        import psycopg

        with psycopg.connect(f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE spfguard")
        return self

    def _wait(self, timeout: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                psycopg.connect(f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres", connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError("postgres did not start")

    def reset(self) -> None:
        """An empty database for the next test."""
        import psycopg

        with psycopg.connect(f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS spfguard WITH (FORCE)")
            conn.execute("CREATE DATABASE spfguard")

    def stop(self) -> None:
        stop_process(self.process, timeout=20)
        shutil.rmtree(self.workdir, ignore_errors=True)
