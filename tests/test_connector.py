"""Connector module: config validation, the PowerShell script (parser-level check against Exchange's cmdlet
reference), the checklist, smart-host validation against real aiosmtpd servers, and the SPF/MX tie-in."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from spfguard.cli.main import main
from spfguard.connector.model import parse_connector
from spfguard.connector.render import powershell
from spfguard.connector.smtpcheck import name_matches
from spfguard.tables import ConfigError
from tests.conftest import DEMO_ZONES, FIXTURES
from tests.exchange_cmdlets import CMDLETS, VALUES
from tests.support.smtp import Accept, RefuseRecipients, SmtpServer, make_certificates

SEED = FIXTURES / "connector" / "aacn.toml"


def seed_config() -> dict:
    import tomllib

    return tomllib.loads(SEED.read_text())


# ---- config ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("section, key, value, words", [
    ("connector", "tls", "strict", "connector.tls: 'strict' is not allowed (allowed: any, ca"),
    ("connector", "scope", "everything", "connector.scope: 'everything' is not allowed (allowed: transport-rule"),
    ("connector", "smart_hosts", [], "connector.smart_hosts: must be a non-empty list"),
    ("connector", "smart_hosts", ["bad host!"], "is not a host name or an IP address"),
    ("connector", "validation_recipients", ["nobody"], "'nobody' is not an email address"),
    ("rule", "severity", "Critical", "rule.severity: 'Critical' is not allowed (allowed: DoNotAudit, Low, Medium, "
                                     "High)"),
    ("rule", "mode", "On", "rule.mode: 'On' is not allowed (allowed: Enforce, Audit, AuditAndNotify)"),
    ("rule", "priority", -1, "rule.priority: must be a whole number"),
    ("rule", "stop_processing", "yes", "rule.stop_processing: must be true or false"),
])
def test_bad_values_name_the_key_and_the_allowed_values(section, key, value, words):
    config = seed_config()
    config[section][key] = value
    with pytest.raises(ConfigError) as info:
        parse_connector(config)
    assert words in str(info.value)


def test_cli_reports_config_errors_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(SEED.read_text().replace('tls = "any"', 'tls = "whatever"'))
    assert main(["connector", "plan", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "connector.tls" in err and len(err.strip().splitlines()) == 1
    broken = tmp_path / "broken.toml"
    broken.write_text("[connector\nname=")
    assert main(["connector", "plan", "--config", str(broken)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


# ---- PowerShell ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"'(?:[^']|'')*'|\$\w+|@\{|@\(|@\w+|-\w+|[A-Z][a-z]+-\w+|\d+|\w+|[{}()=,;\n]|\S")


def parse_powershell(script: str):
    """A small PowerShell reader: the cmdlet calls, their parameters (splatted hashtables resolved) and values."""
    script = re.sub(r"#[^\n]*", "", script)
    tokens = _TOKEN.findall(script)
    hashtables: dict[str, dict[str, object]] = {}
    variables: dict[str, object] = {}
    calls = []
    i = 0

    def value(j):
        t = tokens[j]
        if t.startswith("'"):
            text = t[1:-1]
            for quote in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):  # PowerShell's single quotes
                text = text.replace(quote * 2, quote)
            return text, j + 1
        if t == "@(":
            items, j = [], j + 1
            while tokens[j] != ")":
                if tokens[j] != ",":
                    item, j = value(j)
                    items.append(item)
                else:
                    j += 1
            return items, j + 1
        if t in ("$true", "$false"):
            return t == "$true", j + 1
        if t.isdigit():
            return int(t), j + 1
        if t.startswith("$"):
            return variables.get(t[1:], t), j + 1
        return t, j + 1

    while i < len(tokens):
        t = tokens[i]
        if t.startswith("$") and i + 2 < len(tokens) and tokens[i + 1] == "=":
            if tokens[i + 2] == "@{":
                table, j = {}, i + 3
                while tokens[j] != "}":
                    if tokens[j] == "\n":
                        j += 1
                        continue
                    key = tokens[j]
                    assert tokens[j + 1] == "=", f"bad hashtable entry near {key!r}"
                    table[key], j = value(j + 2)
                hashtables[t[1:]] = table
                i = j + 1
            else:
                variables[t[1:]], i = value(i + 2)
            continue
        if re.fullmatch(r"[A-Z][a-z]+-[A-Za-z]+", t) and t not in ("Connect-ExchangeOnline",):
            params, j = {}, i + 1
            while j < len(tokens) and tokens[j] not in ("\n", ")", "}"):
                if tokens[j].startswith("-"):
                    name = tokens[j][1:]
                    if j + 1 < len(tokens) and not tokens[j + 1].startswith("-") and tokens[j + 1] not in ("\n", ")"):
                        params[name], j = value(j + 1)
                    else:
                        params[name], j = True, j + 1
                elif tokens[j].startswith("@") and tokens[j][1:] in hashtables:
                    params.update(hashtables[tokens[j][1:]])
                    j += 1
                else:
                    j += 1
            calls.append((t, params))
            i = j
            continue
        i += 1
    return calls


def check_script(script: str):
    calls = parse_powershell(script)
    for cmdlet, params in calls:
        assert cmdlet in CMDLETS, f"{cmdlet} is not an Exchange Online cmdlet spfguard may use"
        for name, value in params.items():
            assert name in CMDLETS[cmdlet], f"{cmdlet} has no parameter -{name}"
            if name in VALUES:
                assert value in VALUES[name], f"{cmdlet} -{name} {value!r} is not a valid value"
    return calls


def test_seed_script_uses_real_cmdlets_and_carries_every_value():
    connector = parse_connector(seed_config())
    calls = dict(check_script(powershell(connector)))
    new = calls["New-OutboundConnector"]
    assert calls["Set-OutboundConnector"]["SmartHosts"] == new["SmartHosts"] == [
        "aspmx.l.google.com", "alt1.aspmx.l.google.com", "alt2.aspmx.l.google.com",
        "us-smtp-inbound-1.mimecast.com", "us-smtp-inbound-2.mimecast.com"]
    assert new["Name"] == "Office 365 to Google" and new["ConnectorType"] == "OnPremises"
    assert (new["UseMXRecord"], new["TlsSettings"], new["IsTransportRuleScoped"]) == (False, "EncryptionOnly", True)
    assert calls["Validate-OutboundConnector"]["Recipients"] == ["meet.shah@aacn.org"]
    rule = calls["New-TransportRule"]
    assert rule["Name"] == "O365toGoogleWorkspaceRule_Connector" and rule["RecipientDomainIs"] == ["aacn.org"]
    assert rule["RouteMessageOutboundConnector"] == "Office 365 to Google"
    assert (rule["SetAuditSeverity"], rule["StopRuleProcessing"], rule["Priority"], rule["Mode"]) == \
        ("High", True, 0, "Enforce")
    assert (rule["SenderAddressLocation"], rule["RuleErrorAction"]) == ("Header", "Ignore")
    assert "ExceptIfSenderDomainIs" not in rule
    assert calls["Get-OutboundConnector"]["ErrorAction"] == "SilentlyContinue"


def test_other_scopes_and_tls_settings():
    config = seed_config()
    config["connector"].update(scope="domains:aacn.org,sub.aacn.org", tls="domain:*.mimecast.com")
    del config["rule"]
    calls = dict(check_script(powershell(parse_connector(config))))
    new = calls["New-OutboundConnector"]
    assert (new["TlsSettings"], new["TlsDomain"], new["IsTransportRuleScoped"]) == \
        ("DomainValidation", "*.mimecast.com", False)
    assert new["RecipientDomains"] == ["aacn.org", "sub.aacn.org"] and "New-TransportRule" not in calls
    config["connector"].update(scope="all-accepted-domains", tls="ca")
    new = dict(check_script(powershell(parse_connector(config))))["New-OutboundConnector"]
    assert new["AllAcceptedDomains"] is True and new["TlsSettings"] == "CertificateValidation"
    config = seed_config()
    config["rule"]["except_sender_domains"] = ["partner.example"]
    rule = dict(check_script(powershell(parse_connector(config))))["New-TransportRule"]
    assert rule["ExceptIfSenderDomainIs"] == ["partner.example"]


def test_quotes_in_names_cannot_break_the_script():
    config = seed_config()
    evil = "O'Brien's \"$(Remove-Item C:\\*)\" ` ’ connector"
    config["connector"]["name"] = evil
    config["rule"]["name"] = "rule'; Remove-TransportRule -Identity *; '"
    calls = dict(check_script(powershell(parse_connector(config))))
    assert calls["New-OutboundConnector"]["Name"] == evil
    assert calls["New-TransportRule"]["Name"] == "rule'; Remove-TransportRule -Identity *; '"
    assert "Remove-TransportRule" not in dict(calls)


def test_pwsh_syntax_check(tmp_path):
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        pytest.skip("PowerShell (pwsh) is not installable on this machine: it is in neither Debian's nor PyPI's "
                    "registries; the parser-level tests above cover the script")
    script = tmp_path / "setup.ps1"
    script.write_text(powershell(parse_connector(seed_config())))
    check = (f"$e=$null; [System.Management.Automation.Language.Parser]::ParseFile('{script}',[ref]$null,"
             "[ref]$e) | Out-Null; if ($e.Count) { $e; exit 1 }")
    assert subprocess.run([pwsh, "-NoProfile", "-Command", check]).returncode == 0


def test_plan_formats(capsys):
    assert main(["connector", "plan", "-c", str(SEED), "-f", "checklist"]) == 0
    steps = capsys.readouterr().out.splitlines()
    assert steps[0].startswith("1. Exchange admin center → Mail flow → Connectors")
    text = "\n".join(steps)
    for words in ("Connection to: Your organization's email server", "Only when I have a transport rule",
                  "us-smtp-inbound-2.mimecast.com", "Check connectivity to 'aspmx.l.google.com'",
                  "The recipient → domain is → aacn.org", "Severity High", "priority to 0",
                  "leave 'Issued by a trusted certificate authority (CA)' unchecked"):
        assert words in text
    assert main(["connector", "plan", "-c", str(SEED), "-f", "json"]) == 0
    model = json.loads(capsys.readouterr().out)
    assert model["tls"]["exchange"] == "EncryptionOnly" and model["rule"]["priority"] == 0


# ---- validation against real SMTP servers ---------------------------------------------------------

@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    directory = tmp_path_factory.mktemp("smtp")
    certs = make_certificates(directory)
    servers = {
        "self": SmtpServer(Accept(), certs.self_signed).start(),
        "ca": SmtpServer(Accept(), certs.ca_signed).start(),
        "plain": SmtpServer(Accept()).start(),
        "refuse": SmtpServer(RefuseRecipients(), certs.self_signed).start(),
    }
    zone = directory / "smtp.test.zone"
    zone.write_text("$ORIGIN smtp.test.\n$TTL 60\n@ IN SOA ns hm 1 1 1 1 1\n@ IN NS ns\n"
                    "mx IN A 127.0.0.1\nmx2 IN A 127.0.0.1\nself IN A 127.0.0.1\nplain IN A 127.0.0.1\n"
                    "refuse IN A 127.0.0.1\n")
    yield servers, certs, zone
    for server in servers.values():
        server.stop()


def validate(capsys, zone, *args):
    code = main(["connector", "validate", "--zone", str(zone), "--format", "json", "--smtp-timeout", "5", *args])
    return code, json.loads(capsys.readouterr().out)["checks"]


def test_starttls_with_a_self_signed_certificate(smtp, capsys):
    servers, _, zone = smtp
    host = f"self.smtp.test:{servers['self'].port}"
    code, checks = validate(capsys, zone, "--smart-host", host, "--tls", "any", "--recipient", "meet.shah@aacn.org")
    assert code == 0 and [c["status"] for c in checks] == ["Succeed", "Succeed"]
    assert checks[0]["check"] == f"Check connectivity to '{host}'" and checks[0]["banner"]
    assert checks[0]["certificate"]["issuer"] == "CN=self.smtp.test"
    code, checks = validate(capsys, zone, "--smart-host", host, "--tls", "ca")
    assert code == 1 and checks[0]["status"] == "Failed"
    assert "not trusted" in checks[0]["reason"] and "issued by CN=self.smtp.test" in checks[0]["reason"]


def test_ca_and_domain_validation(smtp, capsys):
    servers, certs, zone = smtp
    host = f"mx.smtp.test:{servers['ca'].port}"
    code, checks = validate(capsys, zone, "--smart-host", host, "--tls", "ca", "--ca-file", str(certs.ca_file))
    assert code == 0, checks
    code, checks = validate(capsys, zone, "--smart-host", host, "--tls", "domain:*.smtp.test", "--ca-file",
                            str(certs.ca_file))
    assert code == 0, checks
    code, checks = validate(capsys, zone, "--smart-host", host, "--tls", "domain:*.contoso.com", "--ca-file",
                            str(certs.ca_file))
    assert code == 1 and "do not match the TLS domain *.contoso.com" in checks[0]["reason"]
    assert "mx.smtp.test, mx2.smtp.test" in checks[0]["reason"]


def test_no_starttls(smtp, capsys):
    servers, _, zone = smtp
    code, checks = validate(capsys, zone, "--smart-host", f"plain.smtp.test:{servers['plain'].port}")
    assert code == 1 and "does not offer STARTTLS" in checks[0]["reason"]


def test_recipient_refused(smtp, capsys):
    servers, _, zone = smtp
    code, checks = validate(capsys, zone, "--smart-host", f"refuse.smtp.test:{servers['refuse'].port}",
                            "--recipient", "nobody@aacn.org")
    assert code == 1
    assert checks[0]["status"] == "Succeed" and checks[1]["check"] == "Check recipient 'nobody@aacn.org'"
    assert checks[1]["reason"].startswith("RCPT TO:<nobody@aacn.org> refused: 550 5.1.1")


def test_closed_port_and_unresolvable_host(smtp, capsys):
    _, _, zone = smtp
    from tests.support.knot import free_port

    code, checks = validate(capsys, zone, "--smart-host", f"mx.smtp.test:{free_port()}",
                            "--smart-host", "nowhere.smtp.test", "--recipient", "a@aacn.org")
    assert code == 1
    assert "refused" in checks[0]["reason"]
    assert checks[1]["reason"] == "nowhere.smtp.test does not resolve (NXDOMAIN)"
    assert checks[2]["reason"] == "no smart host could be reached"


def test_send_test_message(smtp, capsys):
    servers, _, zone = smtp
    handler = servers["self"].handler
    before = len(handler.messages)
    code, checks = validate(capsys, zone, "--smart-host", f"self.smtp.test:{servers['self'].port}", "--recipient",
                            "meet.shah@aacn.org", "--send-test")
    assert code == 0 and checks[1]["check"] == "Send test email to 'meet.shah@aacn.org'"
    assert len(handler.messages) == before + 1 and handler.messages[-1].rcpt_tos == ["meet.shah@aacn.org"]


def test_table_output_reads_like_exchange(smtp, capsys):
    servers, _, zone = smtp
    assert main(["connector", "validate", "--zone", str(zone), "--smart-host",
                 f"self.smtp.test:{servers['self'].port}"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Check connectivity to 'self\.smtp\.test:\d+'\s+Succeed", out)


@pytest.mark.parametrize("pattern, names, ok", [
    ("*.contoso.com", ["mx1.contoso.com"], True), ("*.contoso.com", ["*.contoso.com"], True),
    ("*.contoso.com", ["contoso.org"], False), ("mail.contoso.com", ["*.contoso.com"], True),
    ("mail.contoso.com", ["a.mail.contoso.com"], False)])
def test_domain_pattern_matching(pattern, names, ok):
    assert name_matches(pattern, names) is ok


# ---- the tie-in -------------------------------------------------------------------------------------

def test_check_on_the_seed(capsys):
    assert main(["connector", "check", "-c", str(SEED), "--zone", str(DEMO_ZONES), "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (domain,) = data["domains"]
    assert domain["exchange_online_in_spf"] == "full" and domain["mx_platforms"] == ["mimecast-us"]
    assert [f["code"] for f in domain["findings"]] == ["connector-bypasses-mx"]
    assert data["allowlists"]["mimecast"] == ["40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17"]
    assert "2a01:111:f403::/48" in data["allowlists"]["google-workspace"]


def test_check_flags_missing_spf_and_loops(tmp_path, capsys):
    zone = tmp_path / "other.test.zone"
    zone.write_text('$ORIGIN other.test.\n$TTL 60\n@ IN SOA ns hm 1 1 1 1 1\n@ IN NS ns\n'
                    '@ IN TXT "v=spf1 include:_spf.google.com -all"\n@ IN MX 10 aspmx.l.google.com.\n')
    config = tmp_path / "c.toml"
    text = SEED.read_text().replace('recipient_domains = ["aacn.org"]', 'recipient_domains = ["other.test"]')
    config.write_text(text.replace('"aspmx.l.google.com", ',
                                   '"other-test.mail.protection.outlook.com", "aspmx.l.google.com", '))
    assert main(["connector", "check", "-c", str(config), "--zone", str(DEMO_ZONES), "--zone", str(zone)]) == 1
    out = capsys.readouterr().out
    assert "missing-vendor" in out and "connector-loop" in out and "other.test  none" in out
