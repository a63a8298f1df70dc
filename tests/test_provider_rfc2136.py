"""RFC 2136 provider against a real Knot DNS with TSIG: the contract, bad keys, and fix → no-op → rollback."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update
import pytest

from spfguard.provider.base import ProviderError
from spfguard.provider.rfc2136 import Rfc2136Provider
from spfguard.provider.testing import ProviderContract
from tests.conftest import DEMO_ZONES
from tests.support.knot import TSIG_ALGORITHM, TSIG_NAME

_counter = itertools.count()


def tsig(knot) -> str:
    return f"{TSIG_NAME}:{TSIG_ALGORITHM}:{knot.tsig_secret}"


def server_txt(knot, name):
    """The TXT rdatas at ``name`` on the server, as wire bytes (for byte-for-byte comparisons)."""
    response = dns.query.tcp(dns.message.make_query(name, "TXT"), "127.0.0.1", port=knot.port, timeout=5)
    return sorted(r.to_digestable() for rrset in response.answer for r in rrset)


class TestRfc2136Contract(ProviderContract):
    @pytest.fixture
    def provider(self, knot):
        self.secret = knot.tsig_secret
        return Rfc2136Provider({"server": knot.address, "tsig": tsig(knot)})

    @pytest.fixture
    def name(self):
        return f"contract{next(_counter)}.spfguard.test"

    @pytest.fixture
    def backdoor(self, knot):
        key = dns.tsig.Key(TSIG_NAME, knot.tsig_secret, TSIG_ALGORITHM)

        def write(name, values):
            owner = dns.name.from_text(name)
            update = dns.update.UpdateMessage("spfguard.test.", keyring=key)
            update.delete(owner, "TXT")
            for value in values:
                update.add(owner, 60, dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode()]))
            assert dns.query.tcp(update, "127.0.0.1", port=knot.port, timeout=5).rcode() == 0

        return write


def test_wrong_tsig_secret_is_a_clear_error_without_the_secret(knot):
    bad = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
    provider = Rfc2136Provider({"server": knot.address, "tsig": f"{TSIG_NAME}:{TSIG_ALGORITHM}:{bad}"})
    from spfguard.provider.base import Change

    with pytest.raises(ProviderError) as info:
        provider.apply([Change("badkey.spfguard.test", (), ("v=spf1 -all",))])
    assert bad not in str(info.value) and ("NOTAUTH" in str(info.value) or "TSIG" in str(info.value))
    assert provider.read_txt("badkey.spfguard.test") == []


def test_settings_errors_name_what_is_wrong(monkeypatch):
    monkeypatch.delenv("SPFGUARD_RFC2136_SERVER", raising=False)
    with pytest.raises(ProviderError, match="no server"):
        Rfc2136Provider({})
    with pytest.raises(ProviderError, match="name:algorithm:secret") as info:
        Rfc2136Provider({"server": "127.0.0.1:53", "tsig": "just-a-secret-value"})
    assert "just-a-secret-value" not in str(info.value)
    with pytest.raises(ProviderError, match="not valid base64"):
        Rfc2136Provider({"server": "127.0.0.1:53", "tsig": "k:hmac-sha256:!!!notbase64"})


def test_key_file(tmp_path, knot):
    path = tmp_path / "update.key"
    path.write_text(f'key "{TSIG_NAME}" {{\n  algorithm {TSIG_ALGORITHM};\n  secret "{knot.tsig_secret}";\n}};\n')
    provider = Rfc2136Provider({"server": knot.address, "tsig_file": str(path)})
    assert provider.zone_of("x.bigco.spfguard.test") == "spfguard.test"


def spfguard(*args, env):
    return subprocess.run([sys.executable, "-m", "spfguard.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_fix_over_limit_domain_end_to_end(knot, tmp_path, monkeypatch):
    import os

    env = {**os.environ, "SPFGUARD_RFC2136_SERVER": knot.address, "SPFGUARD_RFC2136_TSIG": tsig(knot)}
    domain = "bigco.spfguard.test"
    original = server_txt(knot, domain)
    backups = tmp_path / "backups"
    common = ["--nameserver", knot.address, "--provider", "rfc2136", "--expect", "microsoft365"]

    dry = spfguard("fix", domain, *common, "--format", "json", env=env)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["lookups"] == {"before": 15, "after": 9}
    assert plan["verdict"] == "equivalent except intended differences"
    assert server_txt(knot, domain) == original  # a dry run writes nothing

    done = spfguard("fix", domain, *common, "--apply", "--backup-dir", str(backups), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"verified at {knot.address}: 9/10 lookups, verdict valid" in done.stdout
    check = spfguard("check", domain, "--nameserver", knot.address, "--format", "json", env=env)
    assert json.loads(check.stdout)["results"][0]["lookups"] == 9  # on the real server
    txt = [b"".join(r.strings).decode() for r in dns.message.from_wire(dns.query.tcp(
        dns.message.make_query(domain, "TXT"), "127.0.0.1", port=knot.port).to_wire()).answer[0]]
    assert "MS=ms12345678" in txt  # the verification token is untouched

    again = spfguard("fix", domain, *common, "--apply", "--backup-dir", str(backups), env=env)
    assert again.returncode == 0 and "nothing to change" in again.stdout
    (backup,) = backups.glob("*.json")
    data = json.loads(backup.read_text())
    assert data["provider"] == {"provider": "rfc2136", "server": knot.address, "tsig_key": TSIG_NAME}

    undo = spfguard("rollback", str(backup), "--provider", "rfc2136", "--apply", "--nameserver", knot.address, env=env)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert server_txt(knot, domain) == original  # byte for byte, character-strings included
    for output in (dry, done, again, undo):
        assert knot.tsig_secret not in output.stdout + output.stderr
    assert knot.tsig_secret not in backup.read_text()
    assert all(knot.tsig_secret not in p.read_text() for p in backups.iterdir())


def test_fix_with_an_old_plan_aborts_on_conflict(knot, tmp_path):
    import os

    env = {**os.environ, "SPFGUARD_RFC2136_SERVER": knot.address, "SPFGUARD_RFC2136_TSIG": tsig(knot)}
    provider = Rfc2136Provider({"server": knot.address, "tsig": tsig(knot)})
    assert "DEMO" not in str(DEMO_ZONES)  # keep the import used
    name = "racy.spfguard.test"
    from spfguard.provider.base import Change

    provider.apply([Change(name, (), ("v=spf1 include:o1.spfguard.test -all",))])
    result = spfguard("fix", name, "--nameserver", knot.address, "--provider", "rfc2136", "--flatten", "always",
                      "--format", "json", env=env)
    plan = json.loads(result.stdout)
    changes = [Change(c["name"], tuple(c["before"]), tuple(c["after"])) for c in plan["changes"]]
    provider.apply([Change(name, ("v=spf1 include:o1.spfguard.test -all",), ("v=spf1 -all",))])
    with pytest.raises(ProviderError, match="changed since the plan was made"):
        provider.apply(changes)
    assert provider.read_txt(name) == ["v=spf1 -all"]
