"""Issue #13: the state store behind one interface — SQLite and a real PostgreSQL, the same tests — and the pure
per-domain step (no store at all), stable sharding, schema versions, the outbox, retention."""

from __future__ import annotations

import json
import sqlite3

import pytest

from spfguard.errors import UserError
from spfguard.monitor.drift import Event
from spfguard.monitor.shard import in_shard, parse_shard, shard_of
from spfguard.monitor.snapshot import Snapshot
from spfguard.monitor.step import step
from spfguard.monitor.store import SCHEMA_VERSION, ProblemUpdate, SqliteStore, StoredProblem, open_store


def raw_snapshot(domain, lookups=5, incomplete=False, records=None, **extra):
    return {"format": 2, "domain": domain, "incomplete": incomplete, "records": records or {domain: "v=spf1 -all"},
            "ranges": {}, "include_ranges": {}, "lookups": lookups, "void_lookups": 0, "void_lookups_ipv6": 0,
            "coverage": {}, "ms_version": None, "findings": [], "errors": ["timeout"] if incomplete else [],
            "limits": {"lookups": 10, "voids": 2}, **extra}


def snapshot(*args, **kwargs):
    return Snapshot.from_json(raw_snapshot(*args, **kwargs))


# ---- the pure step -----------------------------------------------------------------------------------------

def test_step_raises_a_problem_once_then_resolves_it():
    first = step("a.example", "acme", snapshot("a.example", 12), None, None, {}, now=100)
    assert [(e.code, e.tenant) for e in first.events] == [("lookups-over-limit", "acme")] and first.open == 1
    (update,) = first.updates
    stored = {(update.code, update.key): StoredProblem(update.message, update.since, update.last_notified)}
    again = step("a.example", "acme", snapshot("a.example", 12), snapshot("a.example", 12), snapshot("a.example", 12),
                 stored, now=200)
    assert again.events == [] and again.open == 1
    reminded = step("a.example", None, snapshot("a.example", 12), None, None, stored, now=100 + 7 * 86400,
                    remind_after=7 * 86400)
    assert reminded.events[0].message.startswith("still: ")
    fixed = step("a.example", None, snapshot("a.example", 5), None, snapshot("a.example", 12), stored, now=300)
    assert [e.code for e in fixed.events] == ["resolved"] and fixed.updates == [ProblemUpdate("lookups-over-limit", "")]


def test_step_an_incomplete_check_decides_only_check_failing():
    stored = {("lookups-over-limit", ""): StoredProblem("x", 1, 1)}
    once = step("a.example", None, snapshot("a.example", incomplete=True), snapshot("a.example", 12), None, stored,
                now=5)
    assert once.events == [] and once.incomplete  # one timeout is not an alert, and not a resolution either
    twice = step("a.example", None, snapshot("a.example", incomplete=True), snapshot("a.example", incomplete=True),
                 None, stored, now=6)
    assert [e.code for e in twice.events] == ["check-failing"]


def test_sharding_is_stable_when_the_list_changes():
    names = [f"d{i}.example" for i in range(500)]
    before = {n: shard_of(n, 4) for n in names}
    after = {n: shard_of(n, 4) for n in names[:200] + names[201:] + ["new.example"]}
    assert all(after[n] == before[n] for n in after if n in before)  # nobody moved
    counts = [sum(1 for n in names if in_shard(n, (k, 4))) for k in range(4)]
    assert sum(counts) == 500 and min(counts) > 90  # every domain in exactly one shard, roughly even
    assert parse_shard("auto", {"JOB_COMPLETION_INDEX": "2", "SPFGUARD_SHARDS": "4"}) == (2, 4)
    assert parse_shard("auto", {"AWS_BATCH_JOB_ARRAY_INDEX": "0", "SPFGUARD_SHARDS": "3"}) == (0, 3)
    with pytest.raises(UserError, match="SPFGUARD_SHARDS"):
        parse_shard("auto", {"JOB_COMPLETION_INDEX": "2"})


# ---- the store, on both engines ------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "state.sqlite")
    else:
        server = request.getfixturevalue("postgres")
        s = open_store(server.url)
    yield s
    s.close()


def test_record_domain_is_one_transaction_with_its_outbox(store):
    run = store.begin_run("0/1", 1.0, None)
    event = Event("a.example", "lookups-over-limit", "", "12 lookups", tenant="acme")
    store.record_domain(run, "a.example", "acme", snapshot("a.example", 12),
                        [ProblemUpdate("lookups-over-limit", "", "12 lookups", 1, 1)], [event],
                        ["acme/webhook", "default/email"])
    assert store.pending_sinks() == ["acme/webhook", "default/email"]
    (pending,) = store.pending("acme/webhook")
    assert (pending.domain, pending.code, pending.tenant, pending.id) == ("a.example", "lookups-over-limit", "acme",
                                                                        event.id)
    store.delivered("acme/webhook", [pending], 2.0)
    assert store.pending_sinks() == ["default/email"]  # one sink delivered, the other still pending
    store.failed("default/email", store.pending("default/email"), "refused")
    assert store.pending_count() == {"default/email": 1}
    assert store.problems("a.example")[("lookups-over-limit", "")].message == "12 lookups"
    assert store.last_snapshots("a.example")[0].lookups == 12
    store.finish_run(run, 1, 1, 0, 1, 0.5)
    assert store.shards()[0].checked == 1


def test_a_failed_domain_transaction_leaves_nothing(store):
    run = store.begin_run("0/1", 1.0, None)
    with pytest.raises(Exception):  # noqa: B017 - the engine's own error (a duplicate snapshot key)
        store.record_domain(run, "a.example", None, snapshot("a.example"), [], [], [])
        store.record_domain(run, "a.example", None, snapshot("a.example"), [ProblemUpdate("x", "", "y", 1, 1)],
                            [Event("a.example", "x", "", "y")], ["default/webhook"])
    assert store.problems("a.example") == {} and store.pending_sinks() == []


def test_announce_is_a_compare_and_set(store):
    assert store.announce("ms_version", "2026110100") is None  # the first value: nothing to say
    assert store.announce("ms_version", "2026110100") is None
    assert store.announce("ms_version", "2026112600") == "2026110100"
    assert store.announce("ms_version", "2026112600") is None  # a second shard: already announced


def test_retention_keeps_the_latest_snapshots_and_every_event(store):
    for n in range(6):
        run = store.begin_run("0/1", float(n), None)
        store.record_domain(run, "a.example", None, snapshot("a.example", n), [], [Event("a.example", "c", "", "m")],
                            [])
        store.record_domain(run, "b.example", None, snapshot("b.example", incomplete=n > 1), [], [], [])
    deleted = store.prune("0/1", 2)
    assert deleted > 0
    history = store.history("a.example")
    assert [h.snapshot.lookups for h in history] == [4, 5]
    assert len(store.events_since(0)) == 6  # events are history: kept
    last, complete = store.last_snapshots("b.example")
    assert last.incomplete and complete is not None and not complete.incomplete  # the last good one kept


def test_a_newer_schema_is_refused(store):
    store.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(UserError, match="newer than this spfguard understands"):
        store.reopen()


def test_a_version_1_store_is_migrated(tmp_path):
    """spfguard 0.1's SQLite store: its history stays readable after the upgrade."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE runs (id INTEGER PRIMARY KEY, started REAL, finished REAL, ms_version TEXT, exit_code INTEGER);
        CREATE TABLE snapshots (run_id INTEGER, domain TEXT, incomplete INTEGER, data TEXT,
                                PRIMARY KEY (run_id, domain));
        CREATE TABLE events (run_id INTEGER, at REAL, domain TEXT, code TEXT, key TEXT, message TEXT,
                             notified INTEGER);
        CREATE TABLE problems (domain TEXT, code TEXT, key TEXT, message TEXT, since REAL, last_notified REAL,
                               PRIMARY KEY (domain, code, key));
    """)
    old = raw_snapshot("a.example", 12)
    del old["format"]
    db.execute("INSERT INTO runs VALUES (1, 100, 101, NULL, 1)")
    db.execute("INSERT INTO snapshots VALUES (1, 'a.example', 0, ?)", (json.dumps(old),))
    db.execute("INSERT INTO events VALUES (1, 100, 'a.example', 'lookups-over-limit', '', '12 lookups', 1)")
    db.execute("INSERT INTO problems VALUES ('a.example', 'lookups-over-limit', '', '12 lookups', 100, 100)")
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        (entry,) = store.history("a.example")
        assert entry.snapshot.lookups == 12 and entry.events[0]["code"] == "lookups-over-limit"
        assert store.problems("a.example")[("lookups-over-limit", "")].since == 100
        assert store.pending_sinks() == []  # old alerts were sent (or given up) by 0.1: none resent
        assert store.one("SELECT value FROM meta WHERE key = 'schema_version'") == str(SCHEMA_VERSION)
    finally:
        store.close()


def test_a_snapshot_is_written_as_asdict_would_and_read_back_whole():
    import dataclasses

    from spfguard.monitor.snapshot import SNAPSHOT_FORMAT, FindingRef

    snapshot = Snapshot("a.test", records={"a.test": "v=spf1 -all"}, ranges={"pass": ["192.0.2.0/24"]},
                        include_ranges={"_spf.v.test": ["198.51.100.0/24", "2001:db8::/32"]},
                        flattened={"_spf.v.test": ["198.51.100.0/24"]}, lookups=3, verdict="valid",
                        coverage={"m365": {"status": "ok"}}, findings=[FindingRef("warning", "near-void-limit")],
                        errors=["x"], senders={"sources": 2})
    expected = dataclasses.asdict(snapshot) | {"format": SNAPSHOT_FORMAT}
    assert snapshot.to_json() == expected
    assert Snapshot.from_json(json.loads(json.dumps(snapshot.to_json()))) == snapshot
