"""The monitor's state store: one schema, two engines — SQLite (a file, the default) and PostgreSQL
(``state = "postgresql://…"``, shared by every shard of a fleet).

* **Versioned.** The schema version is stored; older stores are migrated on open, a store newer than this
  program is refused with a clear message (never half-read).
* **One transaction per domain.** A domain's snapshot, its problem updates, its events and their deliveries
  (the outbox) are written together when its check completes, so memory stays bounded however large the
  fleet, and a run killed at any point leaves every domain either fully recorded or untouched.
* **Delivery is state.** An event is queued for each sink of its route (``default/webhook``,
  ``acme/email`` …) in that same transaction, and marked delivered in one transaction right after the sink
  accepted it: a run killed before sending sends on the next run (nothing lost), one that already sent does not
  send again; a failing sink keeps only its own deliveries pending.
* **Exactly once.** A sender *claims* the deliveries it is about to send, with a lease (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL, an immediate transaction on SQLite), so shards that finish together never post the
  same alert twice; a claim whose lease expired (a sender killed while sending) is taken over. Each claimed
  batch has a key, kept until it is delivered: a batch sent again after a crash between sending and recording
  carries the same key (the webhook's ``Idempotency-Key``, the mail's ``Message-ID``) so the receiver can drop
  that one duplicate.
* **Retention.** ``prune(keep_runs)`` deletes snapshots older than the last N runs of a shard (the latest, and
  the latest complete, snapshot of every domain are always kept); problems, events and deliveries stay.
* **Errors are one line.** A database that goes away, turns read-only or refuses a privilege mid-run is a
  :class:`StoreError` (exit 3) naming the store, never a traceback; read-only commands open the store read-only
  and never create a schema or a folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from spfguard.errors import IncompleteError, UserError, first_line
from spfguard.monitor.drift import Event
from spfguard.monitor.location import StateLocation, state_location
from spfguard.monitor.snapshot import SNAPSHOT_FORMAT, Snapshot
from spfguard.monitor.step import ProblemUpdate, StoredProblem
from spfguard.redact import redact
from spfguard.senders.reports import AggregateReport, row_from_json, row_to_json

SCHEMA_VERSION = 4  # 2: shards, outbox, retention (0.1 fleet); 3: delivery claims (lease, batch key); 4: DMARC reports
READABLE_FROM = 2  # read-only commands read stores this old without migrating them
MAX_EVENTS_PER_BATCH = 200  # a first run over a large fleet: several messages, not one enormous one


class Busy(IncompleteError):
    """Another run of the same shard holds the store: not starting a second one (exit 3: try later)."""


class StoreError(IncompleteError):
    """The store failed under us (gone, read-only, no privilege): exit 3, the run's other work kept."""


@dataclass
class Batch:
    """Deliveries claimed together: sent as one message, identified by ``key`` until they are delivered."""

    sink: str
    key: str
    events: list[Event]


class ShardRun(NamedTuple):
    """The last run of a shard."""

    shard: str
    run: int
    started: float
    finished: float | None
    exit_code: int | None
    checked: int | None
    failing: int | None
    problems: int | None
    duration: float | None


class OpenProblem(NamedTuple):
    domain: str
    tenant: str | None
    code: str
    key: str
    message: str
    since: float


class Latest(NamedTuple):
    """A domain's latest snapshot."""

    domain: str
    tenant: str | None
    snapshot: Snapshot


class HistoryEntry(NamedTuple):
    run: int
    at: float
    incomplete: bool
    snapshot: Snapshot
    events: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "at": self.at, "incomplete": self.incomplete, "snapshot": self.snapshot.to_json(),
                "events": self.events}


def sink_key(route: str, kind: str) -> str:
    """How a delivery names its sink in the outbox: ``default/webhook``, ``acme/email`` …"""
    return f"{route}/{kind}"


def split_sink_key(key: str) -> tuple[str, str]:
    route, _, kind = key.rpartition("/")
    return route, kind


def _schema(serial: str, real: str) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
        f"CREATE TABLE IF NOT EXISTS runs (id {serial}, shard TEXT, started {real}, finished {real}, ms_version TEXT, "
        f"exit_code INTEGER, checked INTEGER, failing INTEGER, problems INTEGER, duration {real})",
        "CREATE TABLE IF NOT EXISTS snapshots (run_id INTEGER, domain TEXT, tenant TEXT, incomplete INTEGER, "
        "format INTEGER, lookups INTEGER, verdict TEXT, data TEXT, PRIMARY KEY (run_id, domain))",
        "CREATE INDEX IF NOT EXISTS snapshots_domain ON snapshots (domain, run_id)",
        f"CREATE TABLE IF NOT EXISTS events (id {serial}, run_id INTEGER, at {real}, domain TEXT, tenant TEXT, "
        "code TEXT, key TEXT, message TEXT, data TEXT)",
        "CREATE INDEX IF NOT EXISTS events_domain ON events (domain, at)",
        f"CREATE TABLE IF NOT EXISTS deliveries (event_id INTEGER, sink TEXT, delivered {real}, attempts INTEGER, "
        f"last_error TEXT, claimed_by TEXT, claimed_at {real}, claim_key TEXT, PRIMARY KEY (event_id, sink))",
        "CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (sink) WHERE delivered IS NULL",
        f"CREATE TABLE IF NOT EXISTS problems (domain TEXT, code TEXT, key TEXT, message TEXT, since {real}, "
        f"last_notified {real}, tenant TEXT, PRIMARY KEY (domain, code, key))",
        f"CREATE TABLE IF NOT EXISTS flattened (domain TEXT, include TEXT, ranges TEXT, recorded {real}, "
        "PRIMARY KEY (domain, include))",
        "CREATE TABLE IF NOT EXISTS globals (key TEXT PRIMARY KEY, value TEXT)",
        f"CREATE TABLE IF NOT EXISTS dmarc_reports (key TEXT PRIMARY KEY, domain TEXT, tenant TEXT, org TEXT, "
        f"report_id TEXT, period_begin TEXT, period_end TEXT, received {real}, source TEXT, rows TEXT)",
        "CREATE INDEX IF NOT EXISTS dmarc_reports_domain ON dmarc_reports (domain, period_end)",
    ]


class Store:
    """The SQL both engines share; a subclass supplies the connection, placeholders and DDL types."""

    placeholder = "?"
    location = ""
    conn: Any  # a DB-API connection (sqlite3 or psycopg)

    # ---- plumbing --------------------------------------------------------------------------------------

    def _sql(self, query: str) -> str:
        return query if self.placeholder == "?" else query.replace("?", self.placeholder)

    db_errors: tuple[type[BaseException], ...] = ()

    def execute(self, query: str, params: tuple = ()):
        try:
            return self.conn.execute(self._sql(query), params)
        except self.db_errors as err:
            raise self.failure(err) from None

    def failure(self, err: BaseException) -> StoreError:
        """A database error as one line naming the store (the URL's password never shown)."""
        return StoreError(f"state store {self.location}: {redact(first_line(err, limit=300))}")

    def rows(self, query: str, params: tuple = ()) -> list[tuple]:
        return list(self.execute(query, params).fetchall())

    def one(self, query: str, params: tuple = ()):
        row = self.execute(query, params).fetchone()
        return row[0] if row else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError

    def insert_id(self, query: str, params: tuple) -> int:
        raise NotImplementedError

    def close(self) -> None:
        self.conn.close()

    def reopen(self) -> Store:
        """A new connection to the same store (the URL is kept private: it may hold a password)."""
        return open_store(self._target)

    _target: StateLocation

    @contextmanager
    def lock(self, shard: str) -> Iterator[None]:
        """Held for a whole run: a second run of the same shard does not start."""
        raise NotImplementedError

    # ---- schema ----------------------------------------------------------------------------------------

    def _version(self) -> int:
        tables = self._tables()
        return int(self.one("SELECT value FROM meta WHERE key = 'schema_version'") or 0) \
            if "meta" in tables else (1 if "runs" in tables else 0)

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise UserError(f"state store {self.location} has schema version {version}, newer than this spfguard "
                            f"understands ({SCHEMA_VERSION}): upgrade spfguard (a newer version wrote it)")

    def _prepare(self, serial: str, real: str) -> None:
        with self.transaction():
            version = self._version()
            self._refuse_newer(version)
            if version == 1:
                self._migrate_from_1(real)
            if version in (1, 2):
                self._migrate_from_2(real)
            for statement in _schema(serial, real):
                self.execute(statement)
            self.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE "
                         "SET value = excluded.value", (str(SCHEMA_VERSION),))

    def _check_readable(self) -> None:
        """Read-only: the schema must be there already (nothing is created), in a version this program reads."""
        version = self._version()
        if version == 0:
            raise UserError(f"no spfguard state in {self.location}: has the monitor run yet? (--state or --config)")
        self._refuse_newer(version)
        if version < READABLE_FROM:
            raise UserError(f"state store {self.location} has schema version {version}: run the monitor once to "
                            "migrate it")

    def _migrate_from_2(self, real: str) -> None:
        """Version 3: deliveries are claimed with a lease and sent in batches with a key."""
        if "deliveries" not in self._tables():
            return
        for column, kind in (("claimed_by", "TEXT"), ("claimed_at", real), ("claim_key", "TEXT")):
            self.execute(f"ALTER TABLE deliveries ADD COLUMN {column} {kind}")

    def _tables(self) -> set[str]:
        raise NotImplementedError

    def _migrate_from_1(self, real: str) -> None:
        """Version 1 (spfguard 0.1): one SQLite file per machine, events without ids, no deliveries."""
        for table, column, kind in (("runs", "shard", "TEXT"), ("runs", "checked", "INTEGER"),
                                    ("runs", "failing", "INTEGER"), ("runs", "problems", "INTEGER"),
                                    ("runs", "duration", real), ("snapshots", "tenant", "TEXT"),
                                    ("snapshots", "format", "INTEGER"), ("snapshots", "lookups", "INTEGER"),
                                    ("snapshots", "verdict", "TEXT"), ("problems", "tenant", "TEXT")):
            self.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        self.execute("UPDATE runs SET shard = '0/1'")
        self.execute("UPDATE snapshots SET format = 1")
        for run_id, domain, data in self.rows("SELECT run_id, domain, data FROM snapshots"):
            self.execute("UPDATE snapshots SET lookups = ? WHERE run_id = ? AND domain = ?",
                         (json.loads(data).get("lookups"), run_id, domain))
        self.execute("ALTER TABLE events RENAME TO events_v1")
        self.execute(_schema("INTEGER PRIMARY KEY", real)[4])
        self.execute("INSERT INTO events (run_id, at, domain, code, key, message, data) "
                     "SELECT run_id, at, domain, code, key, message, '{}' FROM events_v1")
        self.execute("DROP TABLE events_v1")  # their notifications happened (or were given up) under version 1

    # ---- runs ------------------------------------------------------------------------------------------

    def begin_run(self, shard: str, started: float, ms_version: str | None) -> int:
        with self.transaction():
            return self.insert_id("INSERT INTO runs (shard, started, ms_version) VALUES (?, ?, ?)",
                                  (shard, started, ms_version))

    def finish_run(self, run_id: int, exit_code: int, checked: int, failing: int, problems: int,
                   duration: float) -> None:
        with self.transaction():
            self.execute("UPDATE runs SET finished = ?, exit_code = ?, checked = ?, failing = ?, problems = ?, "
                         "duration = ? WHERE id = ?", (time.time(), exit_code, checked, failing, problems, duration,
                                                       run_id))

    def announce(self, key: str, value: str) -> str | None:
        """Set a fleet-wide value; returns the previous one when it changed (one shard wins a change)."""
        with self.transaction():
            previous = self.one("SELECT value FROM globals WHERE key = ?", (key,))
            if previous == value:
                return None
            if previous is None:  # the first value: nothing to announce
                self.execute("INSERT INTO globals (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                             (key, value))
                return None
            # compare-and-set on the old value: of shards announcing the same change at once, one wins
            cursor = self.execute("UPDATE globals SET value = ? WHERE key = ? AND value = ?", (value, key, previous))
            return previous if cursor.rowcount == 1 else None

    # ---- one domain ------------------------------------------------------------------------------------

    def last_snapshots(self, domain: str) -> tuple[Snapshot | None, Snapshot | None]:
        """The domain's latest snapshot, and its latest complete one."""
        last = self.one("SELECT data FROM snapshots WHERE domain = ? ORDER BY run_id DESC LIMIT 1", (domain,))
        complete = self.one("SELECT data FROM snapshots WHERE domain = ? AND incomplete = 0 ORDER BY run_id DESC "
                            "LIMIT 1", (domain,))
        return _snapshot(last), _snapshot(complete)

    def last_notified(self, domain: str) -> dict[tuple[str, str], float]:
        """When each (code, key) of the domain was last announced, open or not (for throttling)."""
        return {(code, key): at for code, key, at in
                self.rows("SELECT code, key, MAX(at) FROM events WHERE domain = ? GROUP BY code, key", (domain,))}

    def problems(self, domain: str) -> dict[tuple[str, str], StoredProblem]:
        rows = self.rows("SELECT code, key, message, since, last_notified FROM problems WHERE domain = ?", (domain,))
        return {(c, k): StoredProblem(m, s, n) for c, k, m, s, n in rows}

    def record_domain(self, run_id: int, domain: str, tenant: str | None, snapshot: Snapshot,
                      updates: list[ProblemUpdate], events: list[Event], sinks: list[str]) -> None:
        """Everything a domain's check produced, in one transaction (see the module docstring)."""
        now = time.time()
        with self.transaction():
            self.execute("INSERT INTO snapshots (run_id, domain, tenant, incomplete, format, lookups, verdict, data) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (run_id, domain, tenant, int(snapshot.incomplete), SNAPSHOT_FORMAT, snapshot.lookups,
                          snapshot.verdict, json.dumps(snapshot.to_json())))
            for update in updates:
                if update.message is None:
                    self.execute("DELETE FROM problems WHERE domain = ? AND code = ? AND key = ?",
                                 (domain, update.code, update.key))
                    continue
                self.execute("INSERT INTO problems (domain, code, key, message, since, last_notified, tenant) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?) ON CONFLICT (domain, code, key) DO UPDATE SET message = "
                             "excluded.message, since = excluded.since, last_notified = excluded.last_notified, "
                             "tenant = excluded.tenant",
                             (domain, update.code, update.key, update.message, update.since, update.last_notified,
                              tenant))
            self._queue(run_id, now, events, sinks)

    def queue(self, run_id: int, events: list[Event], sinks: list[str]) -> None:
        """Events that belong to no domain's step (a fleet-wide one), with their deliveries."""
        with self.transaction():
            self._queue(run_id, time.time(), events, sinks)

    def _queue(self, run_id: int, now: float, events: list[Event], sinks: list[str]) -> None:
        for event in events:
            event_id = self.insert_id(
                "INSERT INTO events (run_id, at, domain, tenant, code, key, message, data) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?)", (run_id, now, event.domain, event.tenant, event.code, event.key,
                                             event.message, json.dumps(event.data)))
            event.id = event_id
            for sink in sinks:
                self.execute("INSERT INTO deliveries (event_id, sink, attempts) VALUES (?, ?, 0)", (event_id, sink))

    # ---- the outbox ------------------------------------------------------------------------------------

    def pending_sinks(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT DISTINCT sink FROM deliveries WHERE delivered IS NULL ORDER BY sink")]

    def pending(self, sink: str) -> list[Event]:
        rows = self.rows("SELECT e.id, e.domain, e.tenant, e.code, e.key, e.message, e.data FROM deliveries d JOIN "
                         "events e ON e.id = d.event_id WHERE d.sink = ? AND d.delivered IS NULL ORDER BY e.id",
                         (sink,))
        return [Event(domain, code, key, message, json.loads(data or "{}"), tenant, event_id)
                for event_id, domain, tenant, code, key, message, data in rows]

    def claim(self, sink: str, worker: str, now: float, lease: float,
              batch_size: int = MAX_EVENTS_PER_BATCH) -> list[Batch]:
        """Take the deliveries of ``sink`` nobody is sending (never claimed, released after a failure, or whose
        claim is older than ``lease`` seconds): batches that were claimed before keep their key, new ones get
        one."""
        lock = " FOR UPDATE SKIP LOCKED" if self.placeholder != "?" else ""
        with self.transaction():
            rows = self.rows(f"SELECT event_id, claim_key FROM deliveries WHERE sink = ? AND delivered IS NULL AND "
                             f"(claimed_at IS NULL OR claimed_at < ?) ORDER BY event_id{lock}", (sink, now - lease))
            keys: dict[str, list[int]] = {}
            fresh: list[int] = []
            for event_id, key in rows:
                (keys.setdefault(key, []) if key else fresh).append(event_id)
            for start in range(0, len(fresh), batch_size):
                keys[f"spfguard-{uuid.uuid4().hex}"] = fresh[start:start + batch_size]
            for key, ids in keys.items():
                for event_id in ids:
                    self.execute("UPDATE deliveries SET claimed_by = ?, claimed_at = ?, claim_key = ? WHERE "
                                 "event_id = ? AND sink = ?", (worker, now, key, event_id, sink))
        events = {e.id: e for e in self.pending(sink)}
        return [Batch(sink, key, [events[i] for i in ids if i in events])
                for key, ids in sorted(keys.items(), key=lambda kv: min(kv[1]))]

    def delivered(self, sink: str, events: list[Event], at: float) -> None:
        with self.transaction():
            for event in events:
                self.execute("UPDATE deliveries SET delivered = ?, attempts = attempts + 1, last_error = NULL, "
                             "claimed_by = NULL, claimed_at = NULL WHERE event_id = ? AND sink = ?",
                             (at, event.id, sink))

    def failed(self, sink: str, events: list[Event], error: str) -> None:
        """Not delivered: the claim is released (the batch keeps its key for the next attempt)."""
        with self.transaction():
            for event in events:
                self.execute("UPDATE deliveries SET attempts = attempts + 1, last_error = ?, claimed_by = NULL, "
                             "claimed_at = NULL WHERE event_id = ? AND sink = ?", (redact(error)[:500], event.id,
                                                                                  sink))

    # ---- provenance ------------------------------------------------------------------------------------

    def flattened(self, domain: str) -> dict[str, list[str]]:
        """Provenance: include -> the ranges flattened from it into the domain's records."""
        return {include: json.loads(ranges) for include, ranges in
                self.rows("SELECT include, ranges FROM flattened WHERE domain = ?", (domain,))}

    def record_flattened(self, domain: str, sources: dict[str, list[str]]) -> None:
        with self.transaction():
            for include, ranges in sources.items():
                self.execute("INSERT INTO flattened (domain, include, ranges, recorded) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT (domain, include) DO UPDATE SET ranges = excluded.ranges, recorded = "
                             "excluded.recorded", (domain, include, json.dumps(ranges), time.time()))

    # ---- DMARC aggregate reports (read from the rua= mailbox) --------------------------------------------

    def add_reports(self, reports: list[AggregateReport], tenant: str | None, now: float) -> int:
        """Stores reports not stored yet (the same report twice — reporter, report id, period, policy domain — is
        one); returns how many were new."""
        added = 0
        with self.transaction():
            for report in reports:
                key = hashlib.sha256(json.dumps(report.key).encode()).hexdigest()
                cursor = self.execute(
                    "INSERT INTO dmarc_reports (key, domain, tenant, org, report_id, period_begin, period_end, "
                    "received, source, rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                    (key, report.domain, tenant, report.org, report.report_id, report.begin, report.end, now,
                     report.source, json.dumps([row_to_json(r) for r in report.rows])))
                added += cursor.rowcount
        return added

    def reports(self, domain: str, since: str) -> list[AggregateReport]:
        """The stored reports about ``domain`` whose period ends at or after ``since`` ("YYYY-MM-DD HH:MM:SS")."""
        if "dmarc_reports" not in self._tables():  # a store written before schema 4, opened read-only
            return []
        rows = self.rows("SELECT org, report_id, domain, period_begin, period_end, rows, source FROM dmarc_reports "
                         "WHERE domain = ? AND period_end >= ? ORDER BY period_begin, key", (domain, since))
        return [AggregateReport(org, report_id, d, begin, end, tuple(row_from_json(r) for r in json.loads(data)),
                                source or "") for org, report_id, d, begin, end, data, source in rows]

    def prune_reports(self, before: str) -> int:
        """Reports whose period ended before ``before``: past the retention."""
        with self.transaction():
            return self.execute("DELETE FROM dmarc_reports WHERE period_end < ?", (before,)).rowcount

    # ---- retention -------------------------------------------------------------------------------------

    def prune(self, shard: str, keep_runs: int) -> int:
        """Snapshots of this shard older than its last ``keep_runs`` runs; each domain's latest and latest complete
        snapshot are kept whatever their age. Returns how many were deleted."""
        with self.transaction():
            cutoff = self.one("SELECT id FROM runs WHERE shard = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                              (shard, keep_runs - 1))
            if cutoff is None:
                return 0
            cursor = self.execute(
                "DELETE FROM snapshots WHERE run_id < ? AND run_id IN (SELECT id FROM runs WHERE shard = ?) "
                "AND run_id < (SELECT MAX(s2.run_id) FROM snapshots s2 WHERE s2.domain = snapshots.domain) "
                "AND NOT (incomplete = 0 AND run_id = (SELECT MAX(s3.run_id) FROM snapshots s3 WHERE s3.domain = "
                "snapshots.domain AND s3.incomplete = 0))", (cutoff, shard))
            return cursor.rowcount

    # ---- views -----------------------------------------------------------------------------------------

    def history(self, domain: str, limit: int = 50) -> list[HistoryEntry]:
        rows = self.rows("SELECT r.id, r.started, s.incomplete, s.data FROM snapshots s JOIN runs r ON r.id = s.run_id "
                         "WHERE s.domain = ? ORDER BY r.id DESC LIMIT ?", (domain, limit))
        events = self.rows("SELECT run_id, code, key, message, at FROM events WHERE domain = ? ORDER BY id", (domain,))
        by_run: dict[int, list] = {}
        for run_id, code, key, message, at in events:
            by_run.setdefault(run_id, []).append({"code": code, "key": key, "message": message, "at": at})
        return [HistoryEntry(run_id, started, bool(incomplete), Snapshot.from_json(json.loads(data)),
                             by_run.get(run_id, [])) for run_id, started, incomplete, data in reversed(rows)]

    def latest(self, tenant: str | None = None) -> list[Latest]:
        """The latest snapshot of every domain in the store (or of one tenant)."""
        rows = self.rows("SELECT s.domain, s.tenant, s.data FROM snapshots s WHERE s.run_id = (SELECT MAX(run_id) "
                         "FROM snapshots s2 WHERE s2.domain = s.domain) ORDER BY s.domain")
        return [Latest(d, t, Snapshot.from_json(json.loads(data))) for d, t, data in rows
                if tenant is None or t == tenant]

    def timelines(self, since: float) -> dict[str, list[tuple[float, int | None, bool]]]:
        """Per domain: (run time, lookups, incomplete) of every run since ``since`` — for charts, without reading
        the snapshots themselves."""
        out: dict[str, list] = {}
        for domain, started, lookups, incomplete in self.rows(
                "SELECT s.domain, r.started, s.lookups, s.incomplete FROM snapshots s JOIN runs r ON r.id = s.run_id "
                "WHERE r.started >= ? ORDER BY s.domain, s.run_id", (since,)):
            out.setdefault(domain, []).append((started, lookups, bool(incomplete)))
        return out

    def events_since(self, since: float, tenant: str | None = None) -> list[Event]:
        rows = self.rows("SELECT id, domain, tenant, code, key, message, data, at FROM events WHERE at >= ? "
                         "ORDER BY id", (since,))
        return [Event(d, c, k, m, json.loads(data or "{}"), t, i, at) for i, d, t, c, k, m, data, at in rows
                if tenant is None or t == tenant]

    def open_problems(self) -> list[OpenProblem]:
        """Every open problem."""
        return [OpenProblem(*row) for row in
                self.rows("SELECT domain, tenant, code, key, message, since FROM problems ORDER BY domain, code")]

    def shards(self) -> list[ShardRun]:
        """The last run of each shard."""
        rows = self.rows("SELECT r.shard, r.id, r.started, r.finished, r.exit_code, r.checked, r.failing, r.problems, "
                         "r.duration FROM runs r WHERE r.id = (SELECT MAX(id) FROM runs r2 WHERE r2.shard = r.shard) "
                         "ORDER BY r.shard")
        return [ShardRun(*row) for row in rows]

    def pending_count(self) -> dict[str, int]:
        return dict(self.rows("SELECT sink, COUNT(*) FROM deliveries WHERE delivered IS NULL GROUP BY sink"))


class SqliteStore(Store):
    db_errors = (sqlite3.Error,)

    def __init__(self, path: Path | str, *, read_only: bool = False, make_folder: bool = True):
        path = Path(path)
        self.path = path
        self.location = str(path)
        self._target = StateLocation(path=path)
        if read_only:
            if not path.is_file():
                raise UserError(f"no state store at {path}: has the monitor run yet? (--state FILE or --config FILE)")
        elif make_folder:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise UserError(f"cannot create the state folder {path.parent}: {err.strerror} (set [monitor] state "
                                "or --state to a writable place)") from None
        elif not path.parent.is_dir():
            raise UserError(f"the state folder {path.parent} does not exist: create it, or correct [monitor] state "
                            "or --state (a new store there would re-alert every problem)")
        try:
            if read_only:
                self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                            timeout=60)
                self._check_readable()
                return
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=60)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self._prepare("INTEGER PRIMARY KEY", "REAL")
        except (sqlite3.DatabaseError, StoreError) as err:
            raise UserError(f"state store {path}: {str(err).removeprefix(f'state store {path}: ')}") from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.conn.in_transaction:  # nested: part of the enclosing one
            yield
            return
        self.execute("BEGIN IMMEDIATE")  # the writer's lock at once: a claim is exclusive
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def insert_id(self, query: str, params: tuple) -> int:
        return self.execute(query, params).lastrowid

    def _tables(self) -> set[str]:
        return {r[0] for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}

    @contextmanager
    def lock(self, shard: str) -> Iterator[None]:
        suffix = "" if shard == "0/1" else "." + shard.replace("/", "-of-")
        with locked(Path(f"{self.path}{suffix}")):
            yield


class PostgresStore(Store):
    placeholder = "%s"

    def __init__(self, url: str, *, read_only: bool = False):
        try:
            import psycopg
        except ImportError:
            raise UserError("state = \"postgresql://…\" needs psycopg: pipx inject spfguard 'psycopg[binary]' (or "
                            "install spfguard[postgresql])") from None
        self.db_errors = (psycopg.Error,)
        self._target = StateLocation(url=url)
        self.location = str(self._target)
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.ProgrammingError:  # libpq could not read the URL itself: nothing of it is shown
            raise UserError(f"state store {self.location}: not a valid postgresql:// URL") from None
        except psycopg.Error as err:
            raise StoreError(f"state store {self.location}: cannot connect: {redact(first_line(err, limit=300))}") \
                from None
        except Exception:  # noqa: BLE001 - libpq's parser rejects a malformed URL in many ways; none is shown
            raise UserError(f"state store {self.location}: not a valid postgresql:// URL") from None
        if read_only:
            self._check_readable()
        else:
            self._prepare("BIGSERIAL PRIMARY KEY", "DOUBLE PRECISION")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self.conn.transaction():
                yield
        except self.db_errors as err:  # a commit refused (read-only, connection lost)
            raise self.failure(err) from None

    def insert_id(self, query: str, params: tuple) -> int:
        return self.execute(query + " RETURNING id", params).fetchone()[0]

    def _tables(self) -> set[str]:
        return {r[0] for r in self.rows("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}

    @contextmanager
    def lock(self, shard: str) -> Iterator[None]:
        key = f"spfguard-monitor:{shard}"
        if not self.one("SELECT pg_try_advisory_lock(hashtext(?))", (key,)):
            raise Busy(f"another monitor run of shard {shard} holds the store {self.location}; not starting a "
                       "second one")
        try:
            yield
        finally:
            self.execute("SELECT pg_advisory_unlock(hashtext(?))", (key,))

    def _prepare(self, serial: str, real: str) -> None:
        # two shards starting at once must not both create the schema: serialise on an advisory lock
        self.execute("SELECT pg_advisory_lock(hashtext('spfguard-schema'))")
        try:
            super()._prepare(serial, real)
        finally:
            self.execute("SELECT pg_advisory_unlock(hashtext('spfguard-schema'))")


def open_store(location: StateLocation | str | os.PathLike, *, read_only: bool = False) -> Store:
    """The store at ``location`` (:func:`~spfguard.monitor.location.state_location` decides what a text
    means): the shared PostgreSQL store, or a SQLite file. ``read_only``: for commands that only look (status,
    history, report, digest) — nothing is created, and a read-only database role is enough. Only the default
    location's folder is created; another folder must exist (a typo must not start a fresh history)."""
    if not isinstance(location, StateLocation):
        location = state_location(str(location), None)
    if location.url is not None:
        return PostgresStore(location.url, read_only=read_only)
    return SqliteStore(location.path or Path("monitor.sqlite"), read_only=read_only, make_folder=location.default)


def worker_id(shard: str) -> str:
    """Who claims deliveries: this host, process and shard."""
    return f"{socket.gethostname()}:{os.getpid()}:{shard}"


def _snapshot(data: str | None) -> Snapshot | None:
    return Snapshot.from_json(json.loads(data)) if data else None


@contextmanager
def locked(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the state folder {path.parent}: {err.strerror} (set [monitor] state or "
                        "--state to a writable place)") from None
    with open(f"{path}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another monitor run holds {path}.lock; not starting a second one") from None
        lock.write(str(os.getpid()))
        lock.flush()
        yield


__all__ = ["SCHEMA_VERSION", "SNAPSHOT_FORMAT", "Batch", "Busy", "HistoryEntry", "Latest", "OpenProblem",
           "PostgresStore", "ProblemUpdate", "ShardRun", "SqliteStore", "Store", "StoreError", "StoredProblem",
           "locked", "open_store", "sink_key", "split_sink_key", "worker_id"]
