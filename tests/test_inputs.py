"""Issue #11: what a careless user or a hostile server sends. Each input gets a one-line error with its exit
code (2 bad input, 3 could not complete, 1 provider/plan) or the right behaviour — never "internal error"."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from spfguard.cli.main import main
from tests.conftest import DEMO_ZONES, TEST_ZONES
from tests.support.hostile import HostileServer


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    return lines[0]


# ---- domains on the command line, in files, on standard input ----------------------------------------------

@pytest.mark.parametrize("domain, words", [
    ("https://aacn.org/x", "give the name alone, aacn.org"), ("user@aacn.org", "its domain is aacn.org"),
    ("a..b", "empty label"), ("", "it is empty"), ("x" * 64 + ".org", "at most 63"), ("localhost", "single label"),
    ("exa mple.org", "not allowed")])
def test_invalid_domains_exit_2(capsys, domain, words):
    for command in (["check", domain, "--zone", DEMO_ZONES], ["eval", "192.0.2.1", domain, "--zone", DEMO_ZONES],
                    ["fix", domain, "--zone", DEMO_ZONES]):
        code, out, err = run(capsys, *command)
        assert code == 2 and "not a domain name" in one_line(err) and words in err, (command, err)


def test_internationalised_domains_are_looked_up_as_a_labels(capsys):
    code, out, _ = run(capsys, "check", "bücher.aacn.org", "--zone", DEMO_ZONES, "--format", "json")
    assert json.loads(out)["results"][0]["domain"] == "xn--bcher-kva.aacn.org"


def test_nxdomain_says_does_not_exist(capsys):
    code, out, _ = run(capsys, "check", "nothere.aacn.org", "--zone", DEMO_ZONES)
    assert code == 1 and "(the domain does not exist)" in out and "does not exist" in out


def test_domains_from_stdin_and_files(capsys, monkeypatch, tmp_path):
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("# fleet\naacn.org\n\ndeep.spfguard.test  # trailing comment\n"))
    code, out, _ = run(capsys, "check", "-", "--zone", DEMO_ZONES, "--zone", TEST_ZONES, "--format", "csv")
    rows = out.strip().splitlines()
    assert rows[0].startswith("domain,record,lookups") and [r.split(",")[0] for r in rows[1:]] == [
        "aacn.org", "deep.spfguard.test"]
    listing = tmp_path / "domains.csv"
    listing.write_text("tenant,domain\nacme,aacn.org\nacme,l4.spfguard.test\n")
    code, out, _ = run(capsys, "check", "--domains-from", listing, "--zone", DEMO_ZONES, "--zone", TEST_ZONES,
                       "--summary")
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("aacn.org  9/10") and "l4.spfguard.test" in lines[1]
    listing.write_text("aacn.org\nnot a domain\n")
    code, _, err = run(capsys, "check", "--domains-from", listing, "--zone", DEMO_ZONES)
    assert code == 2 and f"{listing} line 2" in one_line(err)
    code, _, err = run(capsys, "check", "--zone", DEMO_ZONES)
    assert code == 2 and "no domains" in one_line(err)


def test_csv_has_coverage_per_expected_platform(capsys):
    code, out, _ = run(capsys, "check", "aacn.org", "--zone", DEMO_ZONES, "--format", "csv",
                       "--expect", "microsoft365,google-workspace")
    header, row = out.strip().splitlines()
    assert header.endswith("coverage_microsoft365,coverage_google-workspace")
    assert row.endswith("full,full") and ",valid,warning," in row


def test_stray_positionals_after_multi_value_options(capsys):
    code, _, err = run(capsys, "check", "aacn.org", "--ip", "192.0.2.1", "192.0.2.2", "--zone", DEMO_ZONES)
    assert code == 2 and "is an address, not a domain" in one_line(err) and "--ip A,B" in err
    code, _, err = run(capsys, "check", "aacn.org", "--expect", "microsoft365", "google-workspace", "--zone",
                       DEMO_ZONES)
    assert code == 2 and "is a platform, not a domain" in one_line(err)
    code, out, _ = run(capsys, "check", "aacn.org", "--ip", "40.107.22.53,2001:db8::1", "--ip", "192.0.2.1",
                       "--zone", DEMO_ZONES, "--format", "json")
    assert [e["ip"] for e in json.loads(out)["results"][0]["evaluations"]] == ["40.107.22.53", "2001:db8::1",
                                                                              "192.0.2.1"]


@pytest.mark.parametrize("ip, words", [("fe80::1%eth0", "zone id"), ("300.1.1.1", "not an IPv4 or IPv6")])
def test_bad_addresses(capsys, ip, words):
    for command in (["eval", ip, "aacn.org"], ["check", "aacn.org", "--ip", ip]):
        code, _, err = run(capsys, *command, "--zone", DEMO_ZONES)
        assert code == 2 and words in one_line(err)


# ---- files that are not what they claim ----------------------------------------------------------------------

def test_files_that_are_not_utf8_text(capsys, tmp_path):
    latin = tmp_path / "aacn.org.zone"
    latin.write_bytes((DEMO_ZONES / "aacn.org.zone").read_bytes() + b"; caf\xe9\n")
    code, _, err = run(capsys, "check", "aacn.org", "--zone", latin)
    assert code == 2 and "not UTF-8" in one_line(err) and "aacn.org.zone" in err
    binary = tmp_path / "binary.zone"
    binary.write_bytes(bytes(range(256)) * 10)
    code, _, err = run(capsys, "check", "aacn.org", "--zone", binary)
    assert code == 2 and "binary" in one_line(err)
    config = tmp_path / "spfguard.toml"
    config.write_bytes('[check]\nexpect = ["microsoft365"]\n'.encode("utf-16"))
    code, _, err = run(capsys, "check", "aacn.org", "--zone", DEMO_ZONES, "--config", config)
    assert code == 2 and "UTF-16: save it as UTF-8" in one_line(err)
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"aacn.org\n\xff\xfe\n")
    code, _, err = run(capsys, "check", "--domains-from", listing, "--zone", DEMO_ZONES)
    assert code == 2 and "not UTF-8" in one_line(err)
    code, _, err = run(capsys, "check", "--domains-from", tmp_path, "--zone", DEMO_ZONES)
    assert code == 2 and "is a directory" in one_line(err)


def test_config_errors_name_the_key_and_the_nearest(capsys, tmp_path):
    config = tmp_path / "spfguard.toml"
    cases = [
        ('[chek]\nexpect = []\n', "unknown table [chek]: did you mean [check]?"),
        ('[check]\nexpects = ["microsoft365"]\n', "unknown key expects: did you mean expect?"),
        ('[check]\nwarn_lookups = "9"\n', "check.warn_lookups: expected a whole number from 1 to 10, not '9'"),
        ('[check]\nexpect = ["microsoft356"]\n', "did you mean 'microsoft365'?"),
        ('[check]\nnameservers = "a,b" \n[check.x]\n', "unknown key x"),
    ]
    for text, words in cases:
        config.write_text(text)
        code, _, err = run(capsys, "check", "aacn.org", "--zone", DEMO_ZONES, "--config", config)
        assert code == 2 and words in one_line(err), (text, err)


def test_monitor_config_mistakes(capsys, tmp_path):
    config = tmp_path / "spfguard.toml"
    cases = [
        ('[monitor]\n[[monitor.domains]]\nname = "a.example"\n[[monitor.domains]]\nname = "A.example."\n',
         "a.example is listed twice"),
        ('[monitor]\n[[monitor.domains]]\nname = "a.example"\n[alerts]\nwebhook = "https://hooks.example/…"\n',
         "the character '…' must be percent-encoded"),
        ('[monitor]\n[[monitor.domains]]\nname = "a.example"\n[alerts]\nwebhook = "https://hooks.example/a b"\n',
         "must be percent-encoded"),
        ('[monitor]\n[[monitor.domains]]\nname = "a.example"\n[alerts]\nwebhook = "ftp://x"\n', "http(s) URL"),
        ('[monitor]\n[[monitor.domains]]\nname = "a.example"\ntennant = "x"\n', "did you mean tenant?"),
        ('[monitor]\ndomains_file = "missing.csv"\n', "missing.csv: no such file"),
        ('[monitor]\n', "no domains"),
        ('[monitor]\n[[monitor.domains]]\nname = "a.example"\n[alerts.tenants.x]\nemail = { to = ["a"] }\n',
         "needs to = [...]"),
    ]
    for text, words in cases:
        config.write_text(text)
        code, _, err = run(capsys, "monitor", "--config", config, "--once", "--zone", DEMO_ZONES)
        assert code == 2 and words in one_line(err), (text, err)


@pytest.mark.parametrize("args, words", [
    (["monitor", "--shard", "3/2"], "--shard '3/2'"),
    (["monitor", "--interval", "10s"], "too short"),
    (["monitor", "--interval", "soon"], "not a duration"),
    (["fix", "aacn.org", "--wait", "-5"], "--wait"),
    (["connector", "validate", "--smart-host", "127.0.0.1", "--smtp-timeout", "0"], "--smtp-timeout"),
    (["connector", "validate", "--smart-host", "127.0.0.1", "--smtp-timeout", "-1"], "--smtp-timeout"),
    (["fix", "aacn.org", "--provider", ""], "--provider: empty name"),
    (["fix", "aacn.org", "--provider", "cloudfare"], "did you mean 'cloudflare'?"),
    (["check", "aacn.org", "--nameserver", "[::1]:53", "--nameserver", "ns.invalid"], "does not resolve"),
])
def test_option_values_out_of_range(capsys, tmp_path, args, words):
    config = tmp_path / "spfguard.toml"
    config.write_text('[monitor]\n[[monitor.domains]]\nname = "aacn.org"\n')
    extra = ["--config", config, "--once"] if args[0] == "monitor" else []
    code, _, err = run(capsys, *args, *extra)
    assert code == 2 and words in one_line(err)


def test_rollback_files_of_the_wrong_shape(capsys, tmp_path):
    backup = tmp_path / "b.json"
    cases = [("[]", "expected a JSON object"), ('{"version": 1, "domain": "a.example", "provider": {"provider": '
             '"zonefile"}, "records": [{"name": "a.example", "before": "v=spf1 -all", "after": []}]}',
             "records[0].before must be a list of strings"),
             ('{"version": 1, "domain": "a.example", "provider": {"provider": "zonefile"}, "records": '
              '[{"name": "evil.example", "before": [], "after": []}]}', "must be a.example or a name below it"),
             ('{"version": 9}', "unsupported version 9"), ("not json", "not JSON")]
    for text, words in cases:
        backup.write_text(text)
        code, _, err = run(capsys, "rollback", backup, "--provider", "zonefile")
        assert code == 2 and words in one_line(err), text


def test_allowlist_output_and_previous_files(capsys, tmp_path):
    code, _, err = run(capsys, "ranges", "allowlist", "--for", "mimecast", "--output", tmp_path / "no" / "x.csv")
    assert code == 2 and "does not exist" in one_line(err)
    first = tmp_path / "export.txt"
    assert run(capsys, "ranges", "allowlist", "--for", "mimecast", "--output", first)[0] == 0
    text = first.read_text()
    for encoding in ("utf-16", "cp1252"):
        previous = tmp_path / f"prev-{encoding}.txt"
        previous.write_bytes(("Plage d'adresses (é)\n" + text).encode(encoding))
        code, out, _ = run(capsys, "ranges", "allowlist", "--for", "mimecast", "--previous", previous)
        assert code == 0 and out.startswith("no change"), encoding


def test_an_unwritable_cache_falls_back_to_the_packaged_data(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SPFGUARD_CACHE_DIR", str(blocker / "cache"))  # below a file: cannot be created
    code, out, err = run(capsys, "ranges", "allowlist", "--for", "mimecast")
    assert code == 0 and "/" in out and "snapshot of 2025-12-01" in err


def test_the_snapshot_age_is_shown_in_text_and_csv(capsys):
    code, out, _ = run(capsys, "ranges", "show", "microsoft365", "--source", "endpoints", "--format", "csv")
    assert out.startswith("# Microsoft 365 endpoint data is the packaged snapshot of 2025-12-01")
    code, out, _ = run(capsys, "ranges", "show", "microsoft365", "--source", "endpoints")
    assert "days old" in out.splitlines()[0]


# ---- servers that trickle, never answer, never end a reply ----------------------------------------------------

def test_a_webhook_that_trickles_fails_within_the_timeout():
    from spfguard.monitor.alerts import AlertError, alert_message
    from spfguard.monitor.drift import Event
    from spfguard.monitor.sinks.webhook import WebhookSink

    for behaviour in ("trickle", "silent"):
        server = HostileServer(behaviour)
        start = time.monotonic()
        try:
            with pytest.raises(AlertError, match="no complete answer within 2s"):
                WebhookSink(server.url).send(alert_message([Event("a.example", "spf-error", "", "x")]), timeout=2)
        finally:
            server.stop()
        assert time.monotonic() - start < 4, behaviour


def test_a_mail_server_with_an_endless_banner_fails_within_the_timeout():
    from spfguard.monitor.alerts import AlertError, alert_message
    from spfguard.monitor.drift import Event
    from spfguard.monitor.sinks.email import EmailSettings, EmailSink

    for behaviour in ("endless-banner", "endless-ehlo", "silent"):
        server = HostileServer(behaviour, interval=0.05)
        start = time.monotonic()
        try:
            settings = EmailSettings(["a@example.com"], "b@example.com", "127.0.0.1", server.port, starttls=True)
            with pytest.raises(AlertError, match="no complete answer within 2s"):
                EmailSink(settings).send(alert_message([Event("a.example", "spf-error", "", "x")]), timeout=2)
        finally:
            server.stop()
        assert time.monotonic() - start < 4, behaviour


def test_connector_validation_against_hostile_smtp_servers(capsys):
    for behaviour, step in (("endless-banner", "the banner"), ("endless-ehlo", "the EHLO reply"),
                            ("silent", "the banner")):
        server = HostileServer(behaviour, interval=0.05)
        start = time.monotonic()
        try:
            code, out, _ = run(capsys, "connector", "validate", "--smart-host", server.address, "--smtp-timeout", "1",
                               "--format", "json")
        finally:
            server.stop()
        assert time.monotonic() - start < 5
        (check,) = json.loads(out)["checks"]
        assert code == 1 and check["status"] == "Failed" and check["reason"].startswith(step), check
        assert "within 1s" in check["reason"]


def test_a_monitor_run_with_a_trickling_webhook_ends_and_releases_its_lock(tmp_path, capsys):
    server = HostileServer("trickle")
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[monitor]\nstate = "{tmp_path / "s.sqlite"}"\n[[monitor.domains]]\nname = "over.spfguard.test"'
                      f'\n[alerts]\nwebhook = "{server.url}"\ntimeout = 2\n')
    try:
        start = time.monotonic()
        code, out, err = run(capsys, "monitor", "--config", config, "--once", "--zone", TEST_ZONES)
        assert time.monotonic() - start < 10
        assert code == 1 and "alert not delivered" in err and "no complete answer within 2s" in err
        from spfguard.monitor.store import locked
        with locked(tmp_path / "s.sqlite"):  # released: can be taken again
            pass
        # the snapshot was kept (nothing new to say) and the alert is tried again next run
        code, out, err = run(capsys, "monitor", "--config", config, "--once", "--zone", TEST_ZONES)
        assert "0 event(s)" in out and "alert not delivered" in err and "no complete answer" in err
    finally:
        server.stop()


# ---- text from DNS never reaches the terminal raw -----------------------------------------------------------

def test_control_characters_from_dns_are_escaped(capsys, tmp_path):
    zone = tmp_path / "evil.example.zone"
    zone.write_text('$ORIGIN evil.example.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\n'
                    '@ TXT "v=spf1 include:\\027[2J\\027]0;pwned\\007.evil.example -all"\n')
    for fmt in ("table", "tree", "csv", "summary"):
        code, out, _ = run(capsys, "check", "evil.example", "--zone", zone, "--format", fmt)
        assert "\x1b" not in out and "\x07" not in out, fmt
        if fmt in ("table", "csv"):  # the record itself is shown
            assert "\\e[2J\\e]0;pwned\\x07" in out, fmt
    code, out, _ = run(capsys, "check", "evil.example", "--zone", zone, "--format", "json")
    assert "\x1b[2J" in json.loads(out)["results"][0]["record"]  # JSON keeps the exact value


# ---- DNS clients ---------------------------------------------------------------------------------------------

def test_live_dns_works_across_event_loops_under_contention(knot):
    """fix plans, then verifies; monitor --auto-fix plans per domain: each in its own asyncio.run. With one slot
    (concurrency 1) every second query waits on the semaphore, which used to be bound to the first loop."""
    from spfguard.dns.live import LiveDns

    dns = LiveDns([knot.address], timeout=1, retries=0, concurrency=1)

    async def burst(names):
        return await asyncio.gather(*(dns.query(n, "TXT") for n in names))

    first = asyncio.run(burst(["aacn.org", "l1.spfguard.test", "l2.spfguard.test"]))
    second = asyncio.run(burst(["l3.spfguard.test", "l4.spfguard.test", "aacn.org"]))
    assert all(a.status.value == "answer" for a in first + second)
    assert dns.sent == 5  # aacn.org came from the cache the second time


def test_a_cname_chain_leaving_the_server_is_followed(knot):
    from spfguard.dns.live import LiveDns

    dns = LiveDns([knot.address], timeout=1, retries=0)
    answer = asyncio.run(dns.query("chained.spfguard.test", "TXT"))
    assert answer.status.value == "answer" and answer.records[0][0].startswith(b"v=spf1")


def test_alert_text_escapes_control_characters_and_json_keeps_them():
    from spfguard.monitor.alerts import summary
    from spfguard.monitor.drift import Event

    event = Event("evil.example", "record-changed", "evil.example", "evil.example: a → \x1b[2Jb\r\x07")
    text = summary([event])
    assert "\x1b" not in text and "\r" not in text and "\\e[2J" in text
    assert event.to_json()["message"].endswith("\x1b[2Jb\r\x07")


def test_a_provider_that_is_not_installed_names_its_package(capsys, monkeypatch):
    from spfguard.provider import registry

    monkeypatch.setitem(registry.DISTRIBUTIONS, "exampledns", "spfguard-exampledns")
    code, _, err = run(capsys, "fix", "aacn.org", "--zone", DEMO_ZONES, "--provider", "exampledns")
    assert code == 2 and "pipx inject spfguard spfguard-exampledns" in one_line(err)


def test_unwritable_backup_and_state_folders(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    zones = tmp_path / "zones"
    import shutil
    shutil.copytree(DEMO_ZONES, zones)
    monkeypatch.setenv("SPFGUARD_ZONEFILE", str(zones / "aacn.org.zone"))
    before = (zones / "aacn.org.zone").read_text()
    code, _, err = run(capsys, "fix", "aacn.org", "--zone", zones, "--expect", "microsoft365", "--provider", "zonefile",
                       "--apply", "--backup-dir", blocker / "backups")
    assert code == 2 and "cannot create the backup folder" in err.strip().splitlines()[-1]
    assert (zones / "aacn.org.zone").read_text() == before  # nothing written without a backup
    config = tmp_path / "spfguard.toml"
    state = blocker / "state" / "m.sqlite"
    config.write_text(f'[monitor]\nstate = "{state}"\n[[monitor.domains]]\nname = "aacn.org"\n')
    code, _, err = run(capsys, "monitor", "--config", config, "--once", "--zone", zones)
    # issue #20: a state folder that is not there is a mistake to report, not one to paper over with a new store
    assert code == 2 and "the state folder" in one_line(err) and "does not exist" in one_line(err)
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker / "xdg"))  # the default store's folder is made when it can be
    config.write_text('[monitor]\n[[monitor.domains]]\nname = "aacn.org"\n')
    code, _, err = run(capsys, "monitor", "--config", config, "--once", "--zone", zones)
    assert code == 2 and "cannot create the state folder" in one_line(err)


def test_a_connector_file_reports_every_problem_at_once(capsys, tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text('[connector]\nname = "x"\nsmart_hosts = ["ok.example.com", "bad host"]\ntls = "strict"\n'
                   'validation_recipients = ["nobody"]\n[rule]\nname = "r"\nrecipient_domains = ["a.org"]\n'
                   'severity = "Critical"\nprioriti = 1\n')
    code, _, err = run(capsys, "connector", "plan", "--config", bad)
    line = one_line(err)
    assert code == 2 and "5 problems" in line
    for words in ("'bad host'", "connector.tls: 'strict'", "'nobody' is not an email address",
                  "rule.severity: 'Critical'", "unknown key prioriti: did you mean priority?"):
        assert words in line, words


def test_a_one_column_csv_is_a_csv():
    from spfguard.domains import read_domain_list

    assert [e.name for e in read_domain_list("domain\naacn.org\n", "x")] == ["aacn.org"]
