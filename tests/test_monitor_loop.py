"""Issue #20: the nightly loop an MSP can trust — each alert exactly once (claims with a lease; one duplicate at
most after a crash between send and commit, with the same idempotency key), a stale flattened copy open until it is
fixed, one domain's fault never the night's end, mail that arrives, quiet cron, right numbers, and the channels
teams use (Slack, Teams, a signed webhook, Apprise, a heartbeat)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spfguard.cli.main import main
from tests.conftest import DEMO_ZONES
from tests.support.smtp import Accept, SmtpServer
from tests.support.webhook import WebhookReceiver

PY = sys.executable


def write_zone(folder: Path, origin: str, records: dict[str, list[str]]) -> Path:
    """A zone file: ``{"d1": ['TXT "v=spf1 +all"']}`` under ``origin``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"$ORIGIN {origin}.", "$TTL 60", "@ IN SOA ns1 hostmaster 1 3600 600 86400 60", "@ IN NS ns1",
             "ns1 IN A 127.0.0.1"]
    lines += [f"{name} IN {rr}" for name, rrs in records.items() for rr in rrs]
    path = folder / f"{origin}.zone"
    path.write_text("\n".join(lines) + "\n")
    return path


def spawn(config: Path, zones: Path, *extra: str, env=None) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "spfguard.cli.main", "monitor", "--config", str(config), "--once", "--zone",
                             str(zones), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def finish(proc: subprocess.Popen) -> tuple[str, str, int]:
    out, err = proc.communicate(timeout=180)
    return out, err, proc.returncode


FLEET = [f"d{n}" for n in range(1, 10)]


def fleet(tmp_path: Path, state: str, alerts: str) -> tuple[Path, Path]:
    """Nine domains that each raise one problem (a +all record), a config naming ``state`` and ``alerts``."""
    zones = tmp_path / "zones"
    write_zone(zones, "loop.test", {d: ['TXT "v=spf1 +all"'] for d in FLEET})
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[monitor]\nstate = "{state}"\n' + "".join(f'[[monitor.domains]]\nname = "{d}.loop.test"\n'
                                                                     for d in FLEET) + alerts)
    return config, zones


# ---- exactly once -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_three_shards_at_once_with_a_slow_webhook_post_each_event_once(engine, tmp_path, request):
    state = str(tmp_path / "state.sqlite") if engine == "sqlite" else request.getfixturevalue("postgres").url
    hook = WebhookReceiver(delay=2.0)
    try:
        config, zones = fleet(tmp_path, state, f'[alerts]\nwebhook = "{hook.url}"\ntimeout = 10\n')
        procs = [spawn(config, zones, "--shard", f"{k}/3") for k in range(3)]  # all three at once
        for out, err, code in map(finish, procs):
            assert code == 1, out + err
        ids = [e["id"] for post in hook.posts for e in post["events"]]
        assert sorted(ids) == sorted(set(ids)) and len(ids) == len(FLEET)  # each event posted exactly once
        keys = [r["headers"].get("Idempotency-Key") for r in hook.requests]
        assert all(keys) and len(set(keys)) == len(keys)  # every batch has its own key
    finally:
        hook.stop()


def test_a_sender_killed_between_send_and_commit_repeats_one_batch_with_its_key(tmp_path):
    """Where exactly-once stops: the receiver accepted the batch, the sender died before recording it. After the
    lease the next run sends that batch again — with the same Idempotency-Key, so the receiver drops it — and then
    nothing more."""
    victim: dict[str, subprocess.Popen] = {}

    def kill_the_sender(handler):
        if "proc" in victim:
            os.kill(victim.pop("proc").pid, signal.SIGKILL)

    hook = WebhookReceiver(on_post=kill_the_sender)
    try:
        config, zones = fleet(tmp_path, str(tmp_path / "state.sqlite"),
                              f'[alerts]\nwebhook = "{hook.url}"\ntimeout = 1\nlease = "1s"\n')
        victim["proc"] = proc = spawn(config, zones)
        out, err, code = finish(proc)
        assert code == -signal.SIGKILL and len(hook.requests) == 1
        time.sleep(1.2)  # the lease of the killed sender expires
        out, err, code = finish(spawn(config, zones))
        assert code == 1, out + err
        first, again = hook.requests
        assert first["headers"]["Idempotency-Key"] == again["headers"]["Idempotency-Key"]
        assert json.loads(first["body"])["events"] == json.loads(again["body"])["events"]
        finish(spawn(config, zones))
        assert len(hook.requests) == 2  # recorded as delivered now: never sent again
    finally:
        hook.stop()


# ---- a stale flattened copy ---------------------------------------------------------------------------------

def test_a_stale_flattened_copy_is_an_open_problem_until_auto_fix_repairs_it(tmp_path):
    """The vendor adds a range to an include the domain flattened: one alert, the problem stays open (status,
    reminders, the fleet page) over three runs, and a later --auto-fix re-flattens it through the one apply flow
    (backup, verification); then it is resolved."""
    zones = tmp_path / "zones"
    zone = write_zone(zones, "stale.test", {"@": ['TXT "v=spf1 ip4:198.51.100.0/24 -all"'],
                                            "vendor": ['TXT "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.0/24 -all"']})
    state = tmp_path / "state.sqlite"
    hook = WebhookReceiver()
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.zonefile]\npath = "{zone}"\n[monitor]\nstate = "{state}"\nremind_after = "1s"\n'
                      '[[monitor.domains]]\nname = "stale.test"\nprovider = "zonefile"\n'
                      f'[alerts]\nwebhook = "{hook.url}"\n')
    try:
        from spfguard.monitor.store import SqliteStore

        store = SqliteStore(state)
        store.record_flattened("stale.test", {"vendor.stale.test": ["198.51.100.0/24"]})  # `fix` flattened it once
        store.close()
        env = {"XDG_STATE_HOME": str(tmp_path / "xdg")}
        outs = [finish(spawn(config, zones, env=env)) for _ in range(3)]
        assert [code for _, _, code in outs] == [1, 1, 1]
        first = [(e["code"], e["key"]) for e in hook.posts[0]["events"]]
        assert first == [("ranges-changed", "vendor.stale.test")] and "203.0.113.0/24" in hook.posts[0]["text"]
        assert all(e["message"].startswith("still: ") for post in hook.posts[1:] for e in post["events"])
        status = subprocess.run([PY, "-m", "spfguard.cli.main", "monitor", "status", "--state", str(state),
                                 "--format", "json"], capture_output=True, text=True)
        assert json.loads(status.stdout)["problems_by_tenant"] == {"(none)": {"ranges-changed": 1}}
        page = tmp_path / "fleet.html"
        assert main(["monitor", "report", "--state", str(state), "--output", str(page)]) == 0
        assert "ranges-changed" in page.read_text()
        out, err, code = finish(spawn(config, zones, "--auto-fix", env=env))
        assert "auto-fix: stale.test: re-flattened through zonefile" in out and "verified at" in out, out + err
        assert list((tmp_path / "xdg" / "spfguard" / "backups").glob("stale.test-*.json"))
        assert "ip4:203.0.113.0/24" in zone.read_text()
        out, err, code = finish(spawn(config, zones, env=env))
        assert code == 0 and any(e["code"] == "resolved" for e in hook.posts[-1]["events"]), out + err
    finally:
        hook.stop()


# ---- one domain's fault is never the night's end ------------------------------------------------------------

def test_a_provider_answering_garbage_under_auto_fix_leaves_the_other_domains_alerted(tmp_path):
    """A Route 53 stand-in that answers HTML: botocore's parser error is that domain's auto-fix failing (one
    warning), the other domains are checked and alerted, the run ends with exit 1 — never 70."""
    pytest.importorskip("spfguard_route53", reason="the route53 plugin: pip install ./providers/route53")
    garbage = WebhookReceiver(body=b"<html><body>maintenance</body></html>", content_type="text/html")
    hook = WebhookReceiver()
    zones = tmp_path / "zones"
    write_zone(zones, "r53.test", {"stale": ['TXT "v=spf1 ip4:198.51.100.0/24 -all"'],
                                   "vendor": ['TXT "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.0/24 -all"'],
                                   "open": ['TXT "v=spf1 +all"']})
    state = tmp_path / "state.sqlite"
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.route53]\nzone_id = "Z123"\n[monitor]\nstate = "{state}"\n'
                      '[[monitor.domains]]\nname = "stale.r53.test"\nprovider = "route53"\n'
                      '[[monitor.domains]]\nname = "open.r53.test"\n'
                      f'[alerts]\nwebhook = "{hook.url}"\n')
    try:
        from spfguard.monitor.store import SqliteStore

        store = SqliteStore(state)
        store.record_flattened("stale.r53.test", {"vendor.r53.test": ["198.51.100.0/24"]})
        store.close()
        env = {"AWS_ENDPOINT_URL": garbage.url.removesuffix("/hook"), "AWS_ACCESS_KEY_ID": "AKIDTEST",
               "AWS_SECRET_ACCESS_KEY": "secret-for-the-test-0123456789", "AWS_DEFAULT_REGION": "us-east-1",
               "XDG_STATE_HOME": str(tmp_path / "xdg")}
        out, err, code = finish(spawn(config, zones, "--auto-fix", env=env))
        assert code in (1, 3) and "internal error" not in err, out + err
        assert "auto-fix of stale.r53.test not done" in err
        alerted = {(e["domain"], e["code"]) for post in hook.posts for e in post["events"]}
        assert ("open.r53.test", "spf-error") in alerted and ("stale.r53.test", "ranges-changed") in alerted
        finished = sqlite3.connect(state).execute("SELECT finished, exit_code FROM runs").fetchone()
        assert finished[0] is not None and finished[1] == code  # the run's end is recorded
    finally:
        hook.stop()
        garbage.stop()


def test_a_database_that_goes_away_mid_run_is_one_line_and_exit_3(tmp_path, postgres):
    import psycopg

    config, zones = fleet(tmp_path, postgres.url, "")
    assert finish(spawn(config, zones))[2] == 1
    with psycopg.connect(postgres.url, autocommit=True) as admin:  # the store turns read-only under the monitor
        admin.execute("ALTER DATABASE spfguard SET default_transaction_read_only = on")
    try:
        out, err, code = finish(spawn(config, zones))
        assert code == 3 and len(err.strip().splitlines()) == 1 and "read-only" in err, err
        assert "Traceback" not in err
    finally:
        with psycopg.connect(postgres.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute("ALTER DATABASE spfguard SET default_transaction_read_only = off")


def test_read_only_commands_work_with_a_read_only_role_and_create_nothing(tmp_path, postgres):
    import psycopg

    config, zones = fleet(tmp_path, postgres.url, "")
    assert finish(spawn(config, zones))[2] == 1
    with psycopg.connect(postgres.url, autocommit=True) as admin:
        admin.execute("CREATE ROLE reader LOGIN")
        admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
    reader = postgres.url.replace("spfguard@", "reader@", 1)
    for command in (["status"], ["history", "d1.loop.test"], ["report", "--output", str(tmp_path / "f.html")]):
        proc = subprocess.run([PY, "-m", "spfguard.cli.main", "monitor", *command, "--state", reader],
                              capture_output=True, text=True)
        assert proc.returncode in (0, 1) and not proc.stderr, (command, proc.stderr)
    # a mistyped database: said, and nothing created there
    with psycopg.connect(postgres.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute("CREATE DATABASE spfguard_empty")
    empty = postgres.url.rsplit("/", 1)[0] + "/spfguard_empty"
    proc = subprocess.run([PY, "-m", "spfguard.cli.main", "monitor", "status", "--state", empty],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "no spfguard state in" in proc.stderr
    with psycopg.connect(empty, autocommit=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
    proc = subprocess.run([PY, "-m", "spfguard.cli.main", "monitor", "status", "--state",
                           postgres.url.rsplit("/", 1)[0] + "/nosuchdb"], capture_output=True, text=True)
    assert proc.returncode == 3 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


# ---- mail that arrives --------------------------------------------------------------------------------------

def test_every_mail_has_date_message_id_and_auto_submitted(tmp_path):
    handler = Accept()
    server = SmtpServer(handler).start()
    try:
        mail = (f'email = {{ to = ["dns-team@aacn.org"], from = "spfguard@alerts.aacn.org", '
                f'smtp = "127.0.0.1:{server.port}", starttls = false }}\n')
        config, zones = fleet(tmp_path, str(tmp_path / "state.sqlite"), "[alerts]\n" + mail)
        assert finish(spawn(config, zones))[2] == 1
        assert main(["monitor", "--config", str(config), "digest"]) == 0
        assert main(["connector", "validate", "--smart-host", f"127.0.0.1:{server.port}", "--recipient",
                     "postmaster@aacn.org", "--send-test", "--tls", "any", "--smtp-timeout", "5"]) in (0, 1)
        messages = [email.message_from_bytes(m.content, policy=email.policy.default) for m in handler.messages]
        assert len(messages) >= 2
        for message in messages:
            assert message["Date"] and message["Message-ID"] and message["Auto-Submitted"] == "auto-generated"
        alert, digest = messages[0], messages[1]
        assert alert["Message-ID"].endswith("@alerts.aacn.org>")
        assert len(alert["Subject"]) <= 160 and "9 domains with an SPF error: " in alert["Subject"]
        assert alert["Subject"].endswith("and 6 more")
        assert digest.get_content_type() == "multipart/alternative"
        assert {p.get_content_type() for p in digest.iter_parts()} == {"text/plain", "text/html"}
    finally:
        server.stop()


# ---- the channels teams use ---------------------------------------------------------------------------------

def _channels_config(tmp_path, channels: str):
    return fleet(tmp_path, str(tmp_path / "state.sqlite"), "[alerts]\n" + channels)


def test_a_signed_webhook_carries_a_signature_the_receiver_can_check(tmp_path, monkeypatch):
    hook = WebhookReceiver()
    monkeypatch.setenv("HOOK_SECRET", "s3cret-signing-key")
    try:
        config, zones = _channels_config(tmp_path, f'webhook = {{ url = "{hook.url}", secret = "env:HOOK_SECRET" }}\n')
        out, err, code = finish(spawn(config, zones))
        assert code == 1, err
        (request,) = hook.requests
        expected = "sha256=" + hmac.new(b"s3cret-signing-key", request["body"], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request["headers"]["X-Spfguard-Signature"], expected)
        assert "s3cret-signing-key" not in out + err
    finally:
        hook.stop()


def test_slack_and_teams_payloads_have_their_documented_shapes(tmp_path):
    slack, teams = WebhookReceiver(), WebhookReceiver()
    try:
        config, zones = _channels_config(tmp_path, f'slack = "{slack.url}"\nteams = "{teams.url}"\n')
        assert finish(spawn(config, zones))[2] == 1
        (message,) = slack.posts  # Block Kit (Slack's reference: ≤ 50 blocks, header ≤ 150, section ≤ 3000)
        assert isinstance(message["text"], str) and message["text"]
        blocks = message["blocks"]
        assert 1 < len(blocks) <= 50 and blocks[0]["type"] == "header"
        assert blocks[0]["text"]["type"] == "plain_text" and len(blocks[0]["text"]["text"]) <= 150
        sections = [b for b in blocks if b["type"] == "section"]
        assert len(sections) == len(FLEET)
        assert all(s["text"]["type"] == "mrkdwn" and len(s["text"]["text"]) <= 3000 for s in sections)
        assert blocks[-1]["type"] == "context"
        (card_message,) = teams.posts  # a Workflows message: one Adaptive Card attachment
        assert card_message["type"] == "message"
        (attachment,) = card_message["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
        assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
        assert all(b["type"] == "TextBlock" and isinstance(b["text"], str) for b in card["body"])
        assert len(card["body"]) == 1 + len(FLEET)
    finally:
        slack.stop()
        teams.stop()


def test_apprise_json_and_ntfy_urls_reach_a_local_receiver(tmp_path):
    pytest.importorskip("apprise", reason="the Apprise sink's library: pip install 'spfguard[apprise]'")
    sink = WebhookReceiver()
    port = sink.url.split(":")[2].split("/")[0]
    try:
        config, zones = _channels_config(tmp_path, f'apprise = ["json://127.0.0.1:{port}/json", '
                                                   f'"ntfy://127.0.0.1:{port}/spf-topic"]\n')
        out, err, code = finish(spawn(config, zones))
        assert code == 1 and "not delivered" not in err, out + err
        assert len(sink.requests) == 2, sink.requests  # one notification per Apprise URL
        json_post = next(r for r in sink.requests if r["path"].startswith("/json"))
        ntfy_post = next(r for r in sink.requests if r is not json_post)
        assert b"9 domains with an SPF error" in json_post["body"]
        assert b"spf-topic" in ntfy_post["body"] + ntfy_post["path"].encode() and b"SPF" in ntfy_post["body"]
    finally:
        sink.stop()


def test_the_heartbeat_is_pinged_after_every_run_success_or_failure(tmp_path):
    beat = WebhookReceiver()
    try:
        config, zones = _channels_config(tmp_path, f'heartbeat = "{beat.url}"\n')
        assert finish(spawn(config, zones))[2] == 1  # problems: the run itself succeeded
        assert [r["path"] for r in beat.requests] == ["/hook"]
        assert b"9 domain(s) checked" in beat.requests[0]["body"]
        config.write_text(config.read_text().replace('[monitor]\n', '[monitor]\ntimeout = 0.2\nretries = 0\n'))
        out, err, code = finish(spawn(config, zones, "--nameserver", "127.0.0.1:9"))
        assert code == 2  # --zone and --nameserver exclude each other: not a run at all
        out, err, code = finish(subprocess.Popen([PY, "-m", "spfguard.cli.main", "monitor", "--config", str(config),
                                                  "--once", "--nameserver", "127.0.0.1:9"], stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True))
        assert code == 3 and beat.requests[-1]["path"] == "/hook/fail", out + err  # could not check: a failure
    finally:
        beat.stop()


def test_a_flapping_problem_is_alerted_once_per_remind_after(tmp_path):
    hook = WebhookReceiver()
    zones = tmp_path / "zones"
    bad, good = ['TXT "v=spf1 +all"'], ['TXT "v=spf1 -all"']
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[monitor]\nstate = "{tmp_path / "s.sqlite"}"\nremind_after = "1h"\n'
                      f'[[monitor.domains]]\nname = "flap.test"\n[alerts]\nwebhook = "{hook.url}"\n')
    try:
        for records in (bad, good, bad, good, bad):
            write_zone(zones, "flap.test", {"@": records})
            finish(spawn(config, zones))
        codes = [e["code"] for post in hook.posts for e in post["events"]]
        assert codes.count("spf-error") == 1 and codes.count("resolved") == 1, codes
    finally:
        hook.stop()


# ---- right numbers ------------------------------------------------------------------------------------------

def test_metrics_in_full_precision_and_every_shard_named(tmp_path):
    config, zones = fleet(tmp_path, str(tmp_path / "state.sqlite"), "")
    metrics = tmp_path / "m.prom"
    finish(spawn(config, zones, "--shard", "1/4", "--metrics-file", str(metrics)))
    text = metrics.read_text()
    stamp = next(line for line in text.splitlines() if line.startswith("spfguard_monitor_last_run_timestamp"))
    assert abs(float(stamp.split()[-1]) - time.time()) < 120 and "e+" not in stamp  # not 1.7e+09
    shards = {line.split('shard="')[1].split('"')[0]: float(line.split()[-1]) for line in text.splitlines()
              if line.startswith("spfguard_monitor_shard_last_run_timestamp_seconds{")}
    assert set(shards) == {"0/4", "1/4", "2/4", "3/4"} and shards["0/4"] == 0 and shards["1/4"] > 0
    status = subprocess.run([PY, "-m", "spfguard.cli.main", "monitor", "status", "--state",
                             str(tmp_path / "state.sqlite")], capture_output=True, text=True)
    assert status.returncode == 1 and "never did: 0/4, 2/4, 3/4" in status.stdout


def test_a_report_for_an_unknown_tenant_is_refused(tmp_path):
    config, zones = fleet(tmp_path, str(tmp_path / "state.sqlite"), "")
    finish(spawn(config, zones))
    code = main(["monitor", "report", "--state", str(tmp_path / "state.sqlite"), "--tenant", "nosuch", "--output",
                 str(tmp_path / "x.html")])
    assert code == 2 and not (tmp_path / "x.html").exists()


def test_a_long_subject_is_bounded():
    from spfguard.monitor.alerts import subject
    from spfguard.monitor.drift import Event

    events = [Event(f"client-{n:03d}.example", "lookups-over-limit", "", "x") for n in range(100)]
    line = subject(events)
    assert line == "spfguard: 100 domains over the lookup limit: client-000.example, client-001.example, " \
                   "client-002.example and 97 more"
    mixed = subject([*events[:2], Event("client-000.example", "record-changed", "x", "y")])
    assert mixed.startswith("spfguard: 3 SPF events for 2 domains: ") and len(mixed) <= 160


def test_quiet_is_quiet_on_a_healthy_fleet(tmp_path):
    zones = tmp_path / "zones"
    write_zone(zones, "calm.test", {"@": ['TXT "v=spf1 -all"']})
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[monitor]\nstate = "{tmp_path / "s.sqlite"}"\n[[monitor.domains]]\nname = "calm.test"\n')
    out, err, code = finish(spawn(config, zones, "--quiet"))
    assert (out, err, code) == ("", "", 0)
    assert DEMO_ZONES.exists()
