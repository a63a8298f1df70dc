"""Issue #23: DMARC reports read continuously from the rua= mailbox — a real Dovecot IMAP server (Debian package
dovecot-imapd) and a Maildir, through parsedmarc's mailbox connections — stored in the monitor's store, judged by
``monitor --once`` (``unauthorised-sender`` once, ``sender-stopped``), read back by ``senders --since`` and shown in
``monitor report``; a catalogue users extend; and the real reports of six public projects, where no DMARC-passing
message may be called unauthorised or spoofing and every message must be in some table."""

from __future__ import annotations

import asyncio
import gzip
import json
import mailbox
import time
from pathlib import Path

import pytest

from spfguard.cli.main import main
from spfguard.monitor.store import open_store
from tests.conftest import DEMO_ZONES, shared_file
from tests.support.dmarc_reports import as_eml, file_name, report_xml
from tests.support.system import require_tool

pytest.importorskip("parsedmarc", reason="parsedmarc is a test extra: pip install '.[test]'")

DAY = 86400
SENDGRID_FAILS = [("40.107.74.12", 40, "pass", "pass"), ("198.18.2.20", 9, "softfail", "fail"),
                  ("192.0.2.99", 1, "fail", "fail")]


def _report_mail(org: str, report_id: str, begin: int, rows) -> bytes:
    xml = report_xml(org, f"noreply@{org}", report_id, begin, begin + DAY - 1, rows)
    name = file_name(org, "aacn.org", begin, begin + DAY - 1) + ".xml.gz"
    return as_eml(gzip.compress(xml.encode()), name, org, f"noreply@{org}")


def _day(days_ago: int) -> int:
    return (int(time.time()) // DAY - days_ago) * DAY


def _events(state: Path, code: str) -> list[tuple[str, str]]:
    store = open_store(state, read_only=True)
    try:
        return [(e.key, e.message) for e in store.events_since(0) if e.code == code]
    finally:
        store.close()


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory):
    from tests.support.dovecot import DovecotServer

    server = DovecotServer(require_tool("dovecot", "dovecot-imapd"), tmp_path_factory.mktemp("dovecot")).start()
    yield server
    server.stop()


def _config(tmp_path: Path, dmarc: str) -> Path:
    path = tmp_path / "spfguard.toml"
    path.write_text(f'[monitor]\nstate = "state.sqlite"\n\n[[monitor.domains]]\nname = "aacn.org"\n\n'
                    f'[dmarc]\n{dmarc}\n')
    return path


def test_the_monitor_reads_the_imap_mailbox_once_and_alerts_once(dovecot, tmp_path, monkeypatch, capsys):
    from tests.support.dovecot import PASSWORD, USER

    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.ca_file))  # the server's certificate is verified
    monkeypatch.setenv("SPFGUARD_TEST_IMAP_PASSWORD", PASSWORD)
    dovecot.deliver(_report_mail("google.com", "g-1", _day(3), SENDGRID_FAILS),
                    _report_mail("Yahoo", "y-1", _day(2), SENDGRID_FAILS[:1]),
                    b"From: someone@example.net\r\nSubject: not a report\r\n\r\nhello\r\n", folder="INBOX")
    config = _config(tmp_path, f'mailbox = "imap"\nhost = "127.0.0.1"\nport = {dovecot.imaps_port}\ntls = "ssl"\n'
                               f'user = "{USER}"\npassword = "env:SPFGUARD_TEST_IMAP_PASSWORD"\narchive = "Archive"\n')
    first = main(["monitor", "--once", "--config", str(config), "--zone", str(DEMO_ZONES)])
    out = capsys.readouterr()
    assert first == 1, out
    assert dovecot.count("INBOX") == 0 and dovecot.count("Archive") == 3  # every message read, then archived
    alerts = _events(tmp_path / "state.sqlite", "unauthorised-sender")
    assert [key for key, _ in alerts] == ["sendgrid"] and "include:sendgrid.net" in alerts[0][1]
    # a second run: nothing new in the mailbox, the problem still open — no second alert
    assert main(["monitor", "--once", "--config", str(config), "--zone", str(DEMO_ZONES)]) == 1
    assert "0 event(s)" in capsys.readouterr().out
    assert len(_events(tmp_path / "state.sqlite", "unauthorised-sender")) == 1
    assert dovecot.count("Archive") == 3
    # the stored reports, read back
    code = main(["senders", "aacn.org", "--since", "30d", "--config", str(config), "--zone", str(DEMO_ZONES),
                 "--format", "json"])
    said = capsys.readouterr()
    assert said.out.startswith("{"), said.err
    found = json.loads(said.out)
    assert code == 1 and found["period"]["reports"] == 2 and found["period"]["messages"] == 90
    assert {p["platform"]: p["status"] for p in found["platforms"]}["sendgrid"] == "unauthorised"
    page = tmp_path / "fleet.html"
    assert main(["monitor", "report", "--config", str(config), "--domain", "aacn.org", "-o", str(page)]) == 0
    html = page.read_text()
    assert "Senders, from the DMARC reports" in html and "sendgrid" in html and "messages per day" in html
    everything = out.out + out.err + capsys.readouterr().err + html
    assert PASSWORD not in everything


def test_a_mailbox_that_refuses_the_login_is_one_line_and_the_run_goes_on(dovecot, tmp_path, monkeypatch,
                                                                           capsys):
    from tests.support.dovecot import USER

    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.ca_file))
    monkeypatch.setenv("SPFGUARD_TEST_IMAP_PASSWORD", "not-the-password-9f3e")
    config = _config(tmp_path, f'mailbox = "imap"\nhost = "127.0.0.1"\nport = {dovecot.imap_port}\n'
                               f'tls = "starttls"\nuser = "{USER}"\npassword = "env:SPFGUARD_TEST_IMAP_PASSWORD"\n')
    code = main(["monitor", "--once", "--config", str(config), "--zone", str(DEMO_ZONES)])
    err = capsys.readouterr().err
    assert code in (0, 1) and "DMARC reports not read" in err and "cannot open the mailbox" in err
    assert "not-the-password-9f3e" not in err and "Traceback" not in err


def test_a_maildir_and_a_silent_platform(tmp_path, capsys):
    """Three days of reports where Mimecast (included by aacn.org) sends nothing, with a window of three days:
    ``sender-stopped``; the messages move to the archive folder of the Maildir."""
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for days_ago, org in ((3, "google.com"), (2, "Yahoo"), (1, "google.com")):
        box.add(_report_mail(org, f"{org}-{days_ago}", _day(days_ago), SENDGRID_FAILS[:1]))
    config = _config(tmp_path, 'mailbox = "maildir"\npath = "Maildir"\nwindow = "3d"\narchive = "Archive"\n')
    assert main(["monitor", "--once", "--config", str(config), "--zone", str(DEMO_ZONES)]) == 1
    stopped = _events(tmp_path / "state.sqlite", "sender-stopped")
    assert sorted(key for key, _ in stopped) == ["google-workspace", "mimecast-us"]  # only Microsoft sent
    assert all("candidate to remove" in message for _, message in stopped)
    assert len(box) == 0 and len(box.get_folder("Archive")) == 3


def test_dmarc_settings_are_checked_key_by_key(tmp_path, capsys):
    config = _config(tmp_path, 'mailbox = "imap"\nhost = "x"\nuser = "u"\npassword = "env:X"\nprot = 993\n')
    assert main(["monitor", "--once", "--config", str(config), "--zone", str(DEMO_ZONES)]) == 2
    assert "did you mean" in capsys.readouterr().err
    config = _config(tmp_path, 'mailbox = "pop3"\n')
    assert main(["monitor", "--once", "--config", str(config), "--zone", str(DEMO_ZONES)]) == 2
    assert "imap, maildir, graph, gmail" in capsys.readouterr().err


# ---- a catalogue users extend ---------------------------------------------------------------------------------

def test_a_user_catalogue_file_adds_a_platform_that_senders_attributes(tmp_path, capsys):
    (tmp_path / "zones").mkdir()
    (tmp_path / "zones" / "acme-mailer.test.zone").write_text(
        "$ORIGIN acme-mailer.test.\n$TTL 300\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\n"
        'spf IN TXT "v=spf1 ip4:198.19.77.0/24 -all"\n')
    (tmp_path / "mine.toml").write_text('[platforms.acme-mailer]\ndisplay = "ACME Mailer"\n'
                                        'include = "spf.acme-mailer.test"\nsource = "our own"\n')
    config = tmp_path / "spfguard.toml"
    config.write_text('[catalogue]\nfiles = ["mine.toml"]\n')
    assert main(["ranges", "list", "--config", str(config), "-f", "json"]) == 0
    listed = {p["platform"]: p for p in json.loads(capsys.readouterr().out)["platforms"]}
    assert listed["acme-mailer"]["origin"] == str(tmp_path / "mine.toml")
    assert listed["microsoft365"]["origin"] == "built in"
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "r.xml").write_text(report_xml("google.com", "n@google.com", "a-1", _day(2), _day(1) - 1,
                                              [("198.19.77.5", 12, "fail", "pass")]))
    code = main(["senders", "aacn.org", "-r", str(reports), "--zone", str(DEMO_ZONES), "--zone",
                 str(tmp_path / "zones"), "--config", str(config), "--format", "json"])
    found = json.loads(capsys.readouterr().out)
    assert code == 1 and found["platforms"][0]["platform"] == "acme-mailer"
    assert found["platforms"][0]["status"] == "dkim-only"


@pytest.mark.parametrize("text, words", [
    ('[platforms.x]\ndisplay = "X"\n\ninclde = "a.test"\n', ":4: [platforms.x] unknown key 'inclde'; did you mean"),
    ('[platforms.x]\ndisplay = "X"\ninclude = "not a name"\n', ":3: [platforms.x] include 'not a name'"),
    ('[platforms.x]\ninclude = "a.test"\n', ":1: [platforms.x] needs display"),
    ('[platforms.x]\ndisplay = "X"\ninclude = "%{ir}.%{q}.spf.test"\n', "not a valid macro domain-spec"),
    ("[platforms.x\n", "not valid TOML"),
    ('[other]\nx = 1\n', "unknown table or key 'other'"),
])
def test_catalogue_files_are_validated_with_line_numbers(tmp_path, capsys, text, words):
    (tmp_path / "mine.toml").write_text(text)
    config = tmp_path / "spfguard.toml"
    config.write_text('[catalogue]\nfiles = ["mine.toml"]\n')
    assert main(["ranges", "list", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err


def test_the_xdg_folder_and_a_macro_template_platform(tmp_path, monkeypatch, capsys):
    from spfguard.vendors.catalogue import load_catalogue

    folder = tmp_path / "spfguard" / "catalogue.d"
    folder.mkdir(parents=True)
    (folder / "ours.toml").write_text('[platforms.relay-42]\ndisplay = "Relay 42"\ninclude = "_spf.relay42.test"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    load_catalogue.cache_clear()
    try:
        assert load_catalogue().get("relay-42").origin == str(folder / "ours.toml")
        zone = tmp_path / "pp.test.zone"
        zone.write_text("$ORIGIN pp.test.\n$TTL 300\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\n"
                        '@ IN TXT "v=spf1 include:%{ir}.%{v}.%{d}.spf.has.pphosted.com -all"\n')
        code = main(["check", "pp.test", "--zone", str(zone), "--expect", "proofpoint", "-f", "json"])
        result = json.loads(capsys.readouterr().out)["results"][0]
        assert result["coverage"]["proofpoint"]["status"] == "full", result
        code = main(["check", "pp.test", "--zone", str(zone), "--expect", "valimail"])
        assert code == 1 and "valimail" in capsys.readouterr().out
    finally:
        load_catalogue.cache_clear()


# ---- real reports ------------------------------------------------------------------------------------------

def test_on_real_reports_no_dmarc_passing_message_is_unauthorised_or_spoofing(tmp_path):
    """Every policy domain of the 63 real files gets a record that authorises nothing (the worst case for these
    conclusions): still, mail that passed DMARC is never "unauthorised" or "possible spoofing", and every message
    of the headline is in some table."""
    from spfguard.dns.zonefile import ZoneFileDns
    from spfguard.senders.reports import Reading, read_reports
    from spfguard.senders.run import analyse

    reading = read_reports([shared_file("realdata", "dmarc")], None)
    domains = sorted({r.domain for r in reading.reports if r.domain and "." in r.domain})
    zones = tmp_path / "zones"
    zones.mkdir()
    for domain in domains:
        (zones / f"{domain}.zone").write_text(f"$ORIGIN {domain}.\n$TTL 300\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\n"
                                              '@ IN TXT "v=spf1 ~all"\n')
    dns = ZoneFileDns.load(DEMO_ZONES, zones)
    checked = 0
    for domain in domains:
        found = asyncio.run(analyse(domain, Reading(reports=[r for r in reading.reports if r.domain == domain]),
                                    dns, max_ptr=0))
        assert found.accounted == found.messages, domain
        for use in found.with_status("unauthorised"):
            assert all(s.failing_dmarc for s in use.sources if s.failing), (domain, use.platform)
        assert all(not s.dmarc_pass for s in found.spoofing), domain
        checked += found.messages
    assert checked > 8000
