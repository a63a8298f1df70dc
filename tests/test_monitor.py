"""``spfguard monitor`` end to end against Knot DNS: baseline, an RFC 2136 update to 12 lookups, no repeat
alert, revert and resolved; email alerts through aiosmtpd; a vendor-range change under a flattened record;
check-failing after two timeouts; the lock, crash safety, shards and history."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from aiosmtpd.smtp import AuthResult

from spfguard.config import load_config
from spfguard.monitor.store import SqliteStore as Store
from spfguard.monitor.store import locked
from spfguard.provider.base import Change
from spfguard.provider.rfc2136 import Rfc2136Provider
from tests.support.knot import TSIG_ALGORITHM, TSIG_NAME
from tests.support.smtp import Accept, SmtpServer, make_certificates
from tests.support.webhook import WebhookReceiver

SMALL = "v=spf1 include:l4.spfguard.test -all"
BIG = "v=spf1 " + " ".join(f"include:o{n}.spfguard.test" for n in range(1, 7)) + " -all"  # 12 lookups
SMTP_PASSWORD = "s3cret-smtp-password"


@pytest.fixture
def hook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def rfc2136(knot):
    return Rfc2136Provider({"server": knot.address, "tsig": f"{TSIG_NAME}:{TSIG_ALGORITHM}:{knot.tsig_secret}"})


def set_record(provider, name, value):
    current = provider.read_txt(name)
    provider.apply([Change(name, tuple(current), (value,))])


def write_config(tmp_path, hook, domains, extra=""):
    lines = ["[monitor]", f'state = "{tmp_path / "state.sqlite"}"', "warn_lookups = 9"]
    for name, expect in domains:
        lines += ["[[monitor.domains]]", f'name = "{name}"', f"expect = {json.dumps(expect)}"]
    lines += ["[alerts]", f'webhook = "{hook.url}"', extra]
    path = tmp_path / "spfguard.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def monitor(config, nameserver, *args, env=None):
    return subprocess.run([sys.executable, "-m", "spfguard.cli.main", "monitor", "--config", str(config), "--once",
                           "--nameserver", nameserver, "--timeout", "0.5", "--retries", "1", *args],
                          capture_output=True, text=True, timeout=120, env=env or os.environ.copy())


def test_lookup_overflow_is_alerted_once_and_resolved(knot, rfc2136, hook, tmp_path):
    config = write_config(tmp_path, hook, [("mon.spfguard.test", [])])
    set_record(rfc2136, "mon.spfguard.test", SMALL)
    try:
        first = monitor(config, knot.address)
        assert first.returncode == 0, first.stdout + first.stderr
        assert hook.posts == []  # healthy: silent
        set_record(rfc2136, "mon.spfguard.test", BIG)
        second = monitor(config, knot.address)
        assert second.returncode == 1
        (post,) = hook.posts
        codes = {(e["domain"], e["code"]) for e in post["events"]}
        assert ("mon.spfguard.test", "lookups-over-limit") in codes
        assert ("mon.spfguard.test", "record-changed") in codes
        assert "mon.spfguard.test" in post["text"] and "12 DNS lookups" in post["text"]
        third = monitor(config, knot.address)
        assert third.returncode == 1 and len(hook.posts) == 1  # the same problem: no new notification
        reminded = monitor(config, knot.address, "--remind-after", "0s")
        assert reminded.returncode == 1 and len(hook.posts) == 2 and "still:" in hook.posts[-1]["text"]
    finally:
        set_record(rfc2136, "mon.spfguard.test", SMALL)
    fourth = monitor(config, knot.address)
    assert fourth.returncode == 0
    resolved = [e for e in hook.posts[-1]["events"] if e["code"] == "resolved"]
    assert resolved and resolved[0]["data"]["problem"] == "lookups-over-limit"
    history = subprocess.run([sys.executable, "-m", "spfguard.cli.main", "monitor", "history", "mon.spfguard.test",
                              "--config", str(config), "--json"], capture_output=True, text=True)
    entries = json.loads(history.stdout)
    assert [e["snapshot"]["lookups"] for e in entries] == [1, 12, 12, 12, 1]


def test_email_alerts_through_a_real_smtp_server(knot, rfc2136, hook, tmp_path):
    certs = make_certificates(tmp_path)

    class Auth:
        def __call__(self, server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == b"monitor" and auth_data.password == SMTP_PASSWORD.encode()
            return AuthResult(success=ok)

    handler = Accept()
    server = SmtpServer(handler, certs.ca_signed)
    server.controller.SMTP_kwargs.update(authenticator=Auth(), auth_require_tls=True)
    server.start()
    email = (f'email = {{ to = ["dns-team@aacn.org"], from = "spfguard@aacn.org", smtp = "127.0.0.1:{server.port}", '
             'starttls = true, user = "env:SMTP_USER", password = "env:SMTP_PASSWORD", '
             f'ca_file = "{certs.ca_file}" }}')
    config = write_config(tmp_path, hook, [("mon.spfguard.test", [])], email)
    env = {**os.environ, "SMTP_USER": "monitor", "SMTP_PASSWORD": SMTP_PASSWORD}
    try:
        set_record(rfc2136, "mon.spfguard.test", BIG)
        result = monitor(config, knot.address, env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        assert len(handler.messages) == 1, result.stderr
        (message,) = handler.messages
        assert message.rcpt_tos == ["dns-team@aacn.org"]
        body = message.content.decode()
        assert "lookups-over-limit" in body and "mon.spfguard.test" in body
        assert SMTP_PASSWORD not in result.stdout + result.stderr
    finally:
        set_record(rfc2136, "mon.spfguard.test", SMALL)
        server.stop()


def test_vendor_range_change_under_a_flattened_record(knot, rfc2136, hook, tmp_path):
    config = write_config(tmp_path, hook, [("flat.spfguard.test", ["microsoft365"])])
    vendor = "spf.protection.outlook.com"
    original = rfc2136.read_txt(vendor)[0]
    assert monitor(config, knot.address).returncode == 0
    try:
        set_record(rfc2136, vendor, original.replace(" -all", " ip4:52.104.0.0/16 ip6:2a01:111:f404::/48 -all"))
        result = monitor(config, knot.address)
        assert result.returncode == 1
        events = {e["code"]: e for e in hook.posts[-1]["events"]}
        assert "52.104.0.0/16" in events["coverage-lost"]["message"]
        assert "2a01:111:f404::/48" in events["coverage-lost"]["message"]
        assert events["ranges-changed"]["data"]["added"] == ["2a01:111:f404::/48", "52.104.0.0/16"]
        assert "Microsoft (spf.protection.outlook.com) added 2 ranges" in events["ranges-changed"]["message"]
    finally:
        set_record(rfc2136, vendor, original)


def test_a_single_timeout_is_not_an_alert_two_are(relay, hook, tmp_path):
    config = write_config(tmp_path, hook, [("slow.spfguard.test", [])])
    first = monitor(config, relay.address)
    assert first.returncode == 3 and hook.posts == []
    second = monitor(config, relay.address)
    assert second.returncode == 1
    assert [e["code"] for e in hook.posts[-1]["events"]] == ["check-failing"]


def test_the_lock_prevents_overlapping_runs(knot, hook, tmp_path):
    config = write_config(tmp_path, hook, [("mon.spfguard.test", [])])
    with locked(tmp_path / "state.sqlite"):
        result = monitor(config, knot.address)
    assert result.returncode == 3 and "another monitor run" in result.stderr


def test_a_domain_that_fails_to_record_leaves_the_store_intact_and_the_run_goes_on(knot, hook, tmp_path,
                                                                                  monkeypatch):
    """Each domain is recorded in one transaction: a domain whose recording fails part-way is left untouched, the
    domains finished before it stay fully recorded — and (issue #20) the fault is that domain's: the run goes on,
    records its end and says what failed."""
    from spfguard.dns.live import LiveDns
    from spfguard.monitor import run as run_module

    config = write_config(tmp_path, hook, [("mon.spfguard.test", []), ("l4.spfguard.test", [])])
    assert monitor(config, knot.address).returncode == 0
    db = tmp_path / "state.sqlite"
    before = sqlite3.connect(db).execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    settings = load_config(config).require_monitor()
    store = Store(db)
    original = store.record_domain
    calls = []

    def second_call_dies(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "record_domain", second_call_dies)
    result = run_module.run_once(settings, LiveDns([knot.address]), store)
    store.close()
    assert result.incomplete == [calls[1]] and "disk full" in result.errors[0] and result.exit_code == 3
    connection = sqlite3.connect(db)
    assert connection.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == before + 1
    recorded = {d for (d,) in connection.execute("SELECT domain FROM snapshots WHERE run_id = (SELECT MAX(id) FROM "
                                                 "runs)")}
    assert recorded == {calls[0]}
    finished, exit_code = connection.execute("SELECT finished, exit_code FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert finished is not None and exit_code == 3  # the run's end is recorded: status never says "running"


def test_shards_split_the_domain_list(knot, hook, tmp_path):
    """By a hash of the name: every domain in exactly one shard, wherever it sits in the list."""
    names = ["mon.spfguard.test", "deep.spfguard.test", "l4.spfguard.test", "f1.spfguard.test", "f2.spfguard.test"]
    config = write_config(tmp_path, hook, [(n, []) for n in names])
    counts = []
    for k in range(2):
        out = monitor(config, knot.address, "--shard", f"{k}/2").stdout
        counts.append(int(out.split("monitor: ")[1].split(" domain")[0]))
    assert sum(counts) == len(names)
    recorded = [d for (d,) in sqlite3.connect(tmp_path / "state.sqlite").execute("SELECT domain FROM snapshots")]
    assert sorted(recorded) == sorted(names)  # none twice, none missing
    bad = monitor(config, knot.address, "--shard", "2/2")
    assert bad.returncode == 2 and "--shard" in bad.stderr


def test_config_errors(tmp_path, capsys):
    from spfguard.cli.main import main

    path = tmp_path / "bad.toml"
    path.write_text('[monitor]\n[[monitor.domains]]\nname = "a.example"\nexpect = ["nope"]\n')
    assert main(["monitor", "--config", str(path), "--once"]) == 2
    assert "monitor.domains[0].expect: unknown value 'nope'" in capsys.readouterr().err
    path.write_text('[monitor]\nremind_after = "soon"\n[[monitor.domains]]\nname = "a.example"\n')
    assert main(["monitor", "--config", str(path), "--once"]) == 2
    assert "monitor.remind_after" in capsys.readouterr().err


def test_auto_fix_re_flattens_when_only_vendor_ranges_drifted(knot, rfc2136, hook, tmp_path):
    config = write_config(tmp_path, hook, [("flat.spfguard.test", ["microsoft365"])],
                          f'[providers.rfc2136]\nserver = "{knot.address}"\ntsig = "env:TEST_TSIG"\n')
    config.write_text(config.read_text().replace('expect = ["microsoft365"]',
                                                 'expect = ["microsoft365"]\nprovider = "rfc2136"'))
    env = {**os.environ, "TEST_TSIG": f"{TSIG_NAME}:{TSIG_ALGORITHM}:{knot.tsig_secret}",
           "XDG_STATE_HOME": str(tmp_path / "xdg")}
    vendor = "spf.protection.outlook.com"
    original_vendor = rfc2136.read_txt(vendor)[0]
    originals = {name: rfc2136.read_txt(name) for name in ("flat.spfguard.test", "_spf1.flat.spfguard.test")}
    assert monitor(config, knot.address, env=env).returncode == 0
    try:
        set_record(rfc2136, vendor, original_vendor.replace(" -all", " ip4:52.104.0.0/16 -all"))
        result = monitor(config, knot.address, "--auto-fix", env=env)
        assert "auto-fix: flat.spfguard.test: re-flattened through rfc2136" in result.stdout, result.stderr
        # the one apply flow: a backup before the write, verification at the zone's servers after it
        (backup,) = (tmp_path / "xdg" / "spfguard" / "backups").glob("flat.spfguard.test-*.json")
        assert json.loads(backup.read_text())["domain"] == "flat.spfguard.test"
        assert f"verified at {knot.address}" in result.stdout
        published = " ".join(rfc2136.read_txt("flat.spfguard.test") + rfc2136.read_txt("_spf1.flat.spfguard.test"))
        assert "ip4:52.104.0.0/16" in published
        assert knot.tsig_secret not in result.stdout + result.stderr
        after = monitor(config, knot.address, env=env)
        assert after.returncode == 0
        assert any(e["code"] == "resolved" for e in hook.posts[-1]["events"])
    finally:
        set_record(rfc2136, vendor, original_vendor)
        for name, values in originals.items():
            rfc2136.apply([Change(name, tuple(rfc2136.read_txt(name)), tuple(values))])


def test_a_parked_domain_that_authorises_senders_is_alerted(knot, hook, tmp_path):
    """Issue #16: `parked = true` in the monitor's domain list: the lockdown is checked on every run (aacn.org
    sends mail, so as a parked domain it is wide open)."""
    config = write_config(tmp_path, hook, [])
    config.write_text(config.read_text().replace("[alerts]", '[[monitor.domains]]\nname = "aacn.org"\n'
                                                             "parked = true\n[alerts]"))
    run = monitor(config, knot.address)
    assert run.returncode == 1, run.stdout + run.stderr
    (post,) = hook.posts
    assert ("aacn.org", "spf-error") in {(e["domain"], e["code"]) for e in post["events"]}
    assert "parked-not-locked" in post["text"]
