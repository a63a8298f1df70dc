"""Issue #13 end to end: three shard processes at once against one real PostgreSQL store, over domains served
by Knot; tenants with their own webhooks; a shard killed with SIGKILL mid-run and run again; status, digest,
logs and metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from spfguard.provider.base import Change
from spfguard.provider.rfc2136 import Rfc2136Provider
from tests.support.knot import TSIG_ALGORITHM, TSIG_NAME
from tests.support.relay import DnsRelay
from tests.support.webhook import WebhookReceiver

FLEET = [f"f{n}.spfguard.test" for n in range(1, 10)]
TENANT = {name: ("acme" if n <= 3 else "globex" if n <= 6 else "") for n, name in enumerate(FLEET, start=1)}
HEALTHY = "v=spf1 include:l4.spfguard.test -all"
BIG = "v=spf1 " + " ".join(f"include:o{n}.spfguard.test" for n in range(1, 7)) + " -all"  # 12 lookups


@pytest.fixture
def hooks():
    receivers = {name: WebhookReceiver() for name in ("default", "acme", "globex")}
    yield receivers
    for receiver in receivers.values():
        receiver.stop()


@pytest.fixture
def writer(knot):
    provider = Rfc2136Provider({"server": knot.address, "tsig": f"{TSIG_NAME}:{TSIG_ALGORITHM}:{knot.tsig_secret}"})
    touched = []

    def set_record(name, value):
        touched.append(name)
        provider.apply([Change(name, tuple(provider.read_txt(name)), (value,))])

    yield set_record
    for name in touched:
        provider.apply([Change(name, tuple(provider.read_txt(name)), (HEALTHY,))])


def fleet_config(tmp_path, postgres, hooks) -> os.PathLike:
    csv = tmp_path / "domains.csv"
    csv.write_text("domain,tenant\n" + "".join(f"{d},{TENANT[d]}\n" for d in FLEET))
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[monitor]\nstate = "{postgres.url}"\ndomains_file = "domains.csv"\nkeep_runs = 5\n'
                      f'[alerts]\nwebhook = "{hooks["default"].url}"\n'
                      f'[alerts.tenants.acme]\nwebhook = "{hooks["acme"].url}"\n'
                      f'[alerts.tenants.globex]\nwebhook = "{hooks["globex"].url}"\n')
    return config


def shard(config, nameserver, part, *extra, wait=True):
    args = [sys.executable, "-m", "spfguard.cli.main", "monitor", "--config", str(config), "--once", "--nameserver",
            nameserver, "--timeout", "5", "--retries", "2", "--shard", part, *extra]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc.communicate(timeout=180) + (proc.returncode,) if wait else proc


def three_shards(config, nameserver):
    procs = [shard(config, nameserver, f"{k}/3", wait=False) for k in range(3)]  # all three at once
    results = [p.communicate(timeout=180) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert code in (0, 1), out + err
    return results


def test_three_shards_one_store_and_alerts_routed_by_tenant(knot, postgres, hooks, writer, tmp_path):
    config = fleet_config(tmp_path, postgres, hooks)
    three_shards(config, knot.address)
    with psycopg.connect(postgres.url) as db:
        recorded = sorted(d for (d,) in db.execute("SELECT domain FROM snapshots"))
        assert recorded == sorted(FLEET)  # every domain checked exactly once, by one shard
        assert db.execute("SELECT COUNT(DISTINCT shard) FROM runs").fetchone()[0] == 3
    assert all(not h.posts for h in hooks.values())  # a healthy fleet: quiet

    writer("f1.spfguard.test", BIG)  # acme: over the limit
    writer("f5.spfguard.test", "v=spf1 include:l4.spfguard.test ~all")  # globex: the record changed
    three_shards(config, knot.address)
    assert len(hooks["acme"].posts) == 1, hooks["acme"].posts  # one message per route per run
    assert len(hooks["globex"].posts) == 1, hooks["globex"].posts
    (acme,), (globex,) = hooks["acme"].posts, hooks["globex"].posts
    assert hooks["default"].posts == []
    assert {e["domain"] for e in acme["events"]} == {"f1.spfguard.test"}
    assert {e["code"] for e in acme["events"]} == {"lookups-over-limit", "record-changed"}
    assert [(e["domain"], e["code"]) for e in globex["events"]] == [("f5.spfguard.test", "record-changed")]
    assert "(tenant acme)" in acme["text"]

    three_shards(config, knot.address)  # nothing new: nothing sent again
    assert len(hooks["acme"].posts) == 1 and len(hooks["globex"].posts) == 1

    status = subprocess.run([sys.executable, "-m", "spfguard.cli.main", "monitor", "status", "--state", postgres.url,
                             "--format", "json"], capture_output=True, text=True)
    data = json.loads(status.stdout)
    assert [s["shard"] for s in data["shards"]] == ["0/3", "1/3", "2/3"] and data["domains"] == 9
    assert data["problems_by_tenant"] == {"acme": {"lookups-over-limit": 1}}


def test_a_shard_killed_mid_run_loses_nothing_and_repeats_nothing(knot, postgres, hooks, writer, tmp_path):
    config = fleet_config(tmp_path, postgres, hooks)
    assert shard(config, knot.address, "0/1")[2] == 0  # the baseline
    for name in ("f2.spfguard.test", "f8.spfguard.test"):
        writer(name, BIG)
    slow = DnsRelay(("127.0.0.1", knot.port), delay=0.15).start()
    try:
        proc = shard(config, slow.address, "0/1", wait=False)
        deadline = time.monotonic() + 60
        with psycopg.connect(postgres.url, autocommit=True) as db:
            while time.monotonic() < deadline:  # wait until the run has recorded some domains, not all
                count = db.execute("SELECT COUNT(*) FROM snapshots WHERE run_id = (SELECT MAX(id) FROM runs)")
                if count.fetchone()[0] >= 3:
                    break
                time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        slow.stop()
    out, err, code = shard(config, knot.address, "0/1")  # the rerun
    assert code == 1, out + err
    delivered = [(e["domain"], e["code"]) for h in hooks.values() for post in h.posts for e in post["events"]]
    expected = [(d, c) for d in ("f2.spfguard.test", "f8.spfguard.test") for c in ("lookups-over-limit",
                                                                                 "record-changed")]
    assert sorted(delivered) == sorted(expected), delivered  # each exactly once: none lost, none repeated
    assert shard(config, knot.address, "0/1")[2] == 1
    assert sorted((e["domain"], e["code"]) for h in hooks.values() for post in h.posts for e in post["events"]) == \
        sorted(expected)


def test_logs_metrics_and_digest(knot, postgres, hooks, writer, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    config = fleet_config(tmp_path, postgres, hooks)
    writer("f4.spfguard.test", BIG)
    metrics = tmp_path / "spfguard.prom"
    out, err, code = shard(config, knot.address, "0/1", "--log-format", "json", "--metrics-file", str(metrics))
    assert code == 1
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(e["message"] == "domain has problems" and e["domain"] == "f4.spfguard.test" for e in lines)
    (run,) = [e for e in lines if e["message"] == "monitor run finished"]
    assert run["checked"] == 9 and run["problems"] == 1
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    assert families["spfguard_monitor_domains_checked"].samples[0].value == 9
    problems = {s.labels["code"]: s.value for s in families["spfguard_monitor_problems"].samples}
    assert problems == {"lookups-over-limit": 1}
    assert families["spfguard_monitor_dns_queries"].samples[0].value > 9
    digest = subprocess.run([sys.executable, "-m", "spfguard.cli.main", "monitor", "--config", str(config), "digest",
                             "--since", "7d"], capture_output=True, text=True)
    assert digest.returncode == 0, digest.stderr
    (post,) = [p for p in hooks["globex"].posts if "digest" in p]
    assert post["digest"]["open"][0]["domain"] == "f4.spfguard.test"
    assert "spfguard digest for tenant globex, last 7d: 3 domain(s) watched, 1 problem(s) open" in post["text"]
    assert any("digest" in p and p["digest"]["open"] == [] for p in hooks["acme"].posts)
