"""The monitor's state: SQLite, one transaction per run (a crashed run leaves the store as it was), and a
lock file so that two runs never overlap."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from spfguard.errors import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started REAL, finished REAL, ms_version TEXT,
                                 exit_code INTEGER);
CREATE TABLE IF NOT EXISTS snapshots (run_id INTEGER, domain TEXT, incomplete INTEGER, data TEXT,
                                      PRIMARY KEY (run_id, domain));
CREATE TABLE IF NOT EXISTS events (run_id INTEGER, at REAL, domain TEXT, code TEXT, key TEXT, message TEXT,
                                   notified INTEGER);
CREATE TABLE IF NOT EXISTS problems (domain TEXT, code TEXT, key TEXT, message TEXT, since REAL,
                                     last_notified REAL, PRIMARY KEY (domain, code, key));
CREATE INDEX IF NOT EXISTS snapshots_domain ON snapshots (domain, run_id);
CREATE TABLE IF NOT EXISTS flattened (domain TEXT, include TEXT, ranges TEXT, recorded REAL,
                                      PRIMARY KEY (domain, include));
"""


class Busy(UserError):
    """Another run holds the lock: not starting a second one."""


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the state folder {path.parent}: {err.strerror} (set [monitor] state or "
                        "--state to a writable place)") from None


@contextmanager
def locked(path: Path):
    _make_folder(path)
    with open(f"{path}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another monitor run holds {path}.lock; not starting a second one") from None
        lock.write(str(os.getpid()))
        lock.flush()
        yield


class Store:
    def __init__(self, path: Path):
        self.path = path
        _make_folder(path)
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise UserError(f"state store {path}: {err}") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- reads ---------------------------------------------------------------------------------------

    def last_snapshot(self, domain: str, complete: bool = False) -> dict | None:
        query = "SELECT data FROM snapshots WHERE domain = ?" + (" AND incomplete = 0" if complete else "") + \
                " ORDER BY run_id DESC LIMIT 1"
        row = self.db.execute(query, (domain,)).fetchone()
        return json.loads(row[0]) if row else None

    def last_ms_version(self) -> str | None:
        row = self.db.execute("SELECT ms_version FROM runs WHERE ms_version IS NOT NULL ORDER BY id DESC LIMIT 1")
        row = row.fetchone()
        return row[0] if row else None

    def problems(self, domain: str) -> dict[tuple[str, str], tuple[str, float, float]]:
        rows = self.db.execute("SELECT code, key, message, since, last_notified FROM problems WHERE domain = ?",
                               (domain,))
        return {(c, k): (m, s, n) for c, k, m, s, n in rows}

    def all_problems(self) -> list[tuple[str, str, str, str]]:
        return self.db.execute("SELECT domain, code, key, message FROM problems ORDER BY domain, code").fetchall()

    def history(self, domain: str, limit: int = 50) -> list[dict]:
        rows = self.db.execute(
            "SELECT r.id, r.started, s.incomplete, s.data FROM snapshots s JOIN runs r ON r.id = s.run_id "
            "WHERE s.domain = ? ORDER BY r.id DESC LIMIT ?", (domain, limit)).fetchall()
        events = self.db.execute("SELECT run_id, code, key, message FROM events WHERE domain = ? ORDER BY at",
                                 (domain,)).fetchall()
        by_run: dict[int, list] = {}
        for run_id, code, key, message in events:
            by_run.setdefault(run_id, []).append({"code": code, "key": key, "message": message})
        return [{"run": run_id, "at": started, "incomplete": bool(incomplete), "snapshot": json.loads(data),
                 "events": by_run.get(run_id, [])} for run_id, started, incomplete, data in reversed(rows)]

    def flattened(self, domain: str) -> dict[str, list[str]]:
        """Provenance: include -> the ranges flattened from it into the domain's records."""
        rows = self.db.execute("SELECT include, ranges FROM flattened WHERE domain = ?", (domain,))
        return {include: json.loads(ranges) for include, ranges in rows}

    def record_flattened(self, domain: str, sources: dict[str, list[str]]) -> None:
        with self.transaction():
            for include, ranges in sources.items():
                self.db.execute("INSERT OR REPLACE INTO flattened VALUES (?, ?, ?, ?)",
                                (domain, include, json.dumps(ranges), time.time()))

    # ---- writes (inside a transaction) ----------------------------------------------------------------

    def add_run(self, started: float, ms_version: str | None) -> int:
        cursor = self.db.execute("INSERT INTO runs (started, ms_version) VALUES (?, ?)", (started, ms_version))
        return cursor.lastrowid

    def finish_run(self, run_id: int, exit_code: int) -> None:
        self.db.execute("UPDATE runs SET finished = ?, exit_code = ? WHERE id = ?", (time.time(), exit_code, run_id))

    def add_snapshot(self, run_id: int, snapshot: dict) -> None:
        self.db.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?)",
                        (run_id, snapshot["domain"], int(snapshot["incomplete"]), json.dumps(snapshot)))

    def add_event(self, run_id: int, domain: str, code: str, key: str, message: str, notified: bool) -> None:
        self.db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (run_id, time.time(), domain, code, key, message, int(notified)))

    def set_problem(self, domain: str, code: str, key: str, message: str, since: float, notified: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO problems VALUES (?, ?, ?, ?, ?, ?)",
                        (domain, code, key, message, since, notified))

    def clear_problem(self, domain: str, code: str, key: str) -> None:
        self.db.execute("DELETE FROM problems WHERE domain = ? AND code = ? AND key = ?", (domain, code, key))
