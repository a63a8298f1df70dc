"""Issue #12 against real backends: one snapshot end to end (Knot), a rollback after SIGKILL mid-apply, TSIG
secrets that never show, the zone-file provider under concurrent writers, and the 13-lookup record whose hosts
lack AAAA fixed through rfc2136 (Route 53 and Cloudflare: their own test modules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update
import pytest

from spfguard.cli.main import main
from spfguard.errors import ProviderError
from spfguard.provider.base import Change, ConflictError
from spfguard.provider.rfc2136 import Rfc2136Provider
from spfguard.provider.zonefile import ZoneFileProvider
from tests.conftest import DEMO_ZONES, ROOT
from tests.support.knot import TSIG_ALGORITHM, TSIG_NAME


def tsig(knot) -> str:
    return f"{TSIG_NAME}:{TSIG_ALGORITHM}:{knot.tsig_secret}"


def backdoor(knot, name, values):
    """Another admin's edit, straight to Knot."""
    key = dns.tsig.Key(TSIG_NAME, knot.tsig_secret, TSIG_ALGORITHM)
    update = dns.update.UpdateMessage("spfguard.test.", keyring=key)
    owner = dns.name.from_text(name)
    update.delete(owner, "TXT")
    for value in values:
        update.add(owner, 60, dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode()]))
    assert dns.query.tcp(update, "127.0.0.1", port=knot.port, timeout=5).rcode() == 0


def test_an_edit_after_the_planning_read_is_caught_not_overwritten(knot, monkeypatch, capsys, relay):
    """The plan, its proof and its compare-and-set come from one read: another admin's edit that lands after that
    read (here: right after it, while planning goes on through a slow resolver) makes the write refuse."""
    name = "race.spfguard.test"
    edited = ["v=spf1 ip4:203.0.113.9 -all"]
    reads = []
    original = Rfc2136Provider.read_txt

    def read_then_someone_edits(self, n):
        values = original(self, n)
        if n == name and not reads:
            reads.append(n)
            backdoor(knot, name, edited)
        return values

    monkeypatch.setattr(Rfc2136Provider, "read_txt", read_then_someone_edits)
    monkeypatch.setenv("SPFGUARD_RFC2136_SERVER", knot.address)
    monkeypatch.setenv("SPFGUARD_RFC2136_TSIG", tsig(knot))
    try:
        code = main(["fix", name, "--nameserver", relay.address, "--provider", "rfc2136", "--apply", "--wait", "5"])
        err = capsys.readouterr().err
        assert code == 1 and "race.spfguard.test changed since the plan was made" in err
        assert "nothing was written" in err
        assert original(Rfc2136Provider({"server": knot.address}), name) == edited  # the edit survives
    finally:
        backdoor(knot, name, ["v=spf1 ip4:192.0.2.1 ip4:192.0.2.1 -all"])


def test_the_13_lookup_record_without_aaaa_is_fixed_through_rfc2136(knot, tmp_path, monkeypatch, capsys):
    name = "v6over.spfguard.test"
    before = Rfc2136Provider({"server": knot.address}).read_txt(name)
    monkeypatch.setenv("SPFGUARD_RFC2136_SERVER", knot.address)
    monkeypatch.setenv("SPFGUARD_RFC2136_TSIG", tsig(knot))
    try:
        code = main(["fix", name, "--nameserver", knot.address, "--provider", "rfc2136", "--apply",
                     "--backup-dir", str(tmp_path), "--wait", "5"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "lookups 13 → 9" in out and "remaining: still, as today: IPv6 senders: 4 void lookups" in out
        assert "verdict permerror for IPv6 senders" in out  # verified on Knot: fixed for everyone else
        assert main(["check", name, "--nameserver", knot.address, "--format", "json"]) == 0
        result = json.loads(capsys.readouterr().out)["results"][0]
        assert result["lookups"] == 9 and result["void_lookups"] == 0
    finally:
        backdoor(knot, name, before)


def test_rollback_after_a_sigkill_mid_apply_restores_every_name_touched(knot, tmp_path):
    """A process killed between its writes (the chained child written, the apex not yet): the rollback removes the
    child and leaves the apex, which is as it was."""
    name = "race2.spfguard.test"
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio, os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from spfguard.dns.live import LiveDns
        from spfguard.fix.apply import write_backup
        from spfguard.fix.planner import FixOptions, plan_fix
        from spfguard.provider.rfc2136 import Rfc2136Provider

        provider = Rfc2136Provider({{"server": {knot.address!r}, "tsig": {tsig(knot)!r}}})
        # a record long enough to need a chained child
        long = "v=spf1 " + " ".join(f"ip4:198.51.100.{{n}}" for n in range(1, 90, 2)) + " -all"
        provider.apply([__import__("spfguard.provider.base").provider.base.Change(
            {name!r}, tuple(provider.read_txt({name!r})), (long,))])
        plan = asyncio.run(plan_fix({name!r}, LiveDns([{knot.address!r}]), FixOptions(),
                                    lambda n: asyncio.to_thread(provider.read_txt, n)))
        names = [c.name for c in plan.changes]
        assert names[-1] == {name!r} and all(n.startswith("_spf") for n in names[:-1]) and len(names) > 2
        Path({str(tmp_path / "children.txt")!r}).write_text(" ".join(names[:-1]))
        write_backup(plan, provider, Path({str(tmp_path)!r}))
        Path({str(tmp_path / "long.txt")!r}).write_text(long)
        for change in plan.changes[:-1]:          # the chained children, one write each …
            provider.apply([change])
        os.kill(os.getpid(), signal.SIGKILL)      # … and the process dies before the apex
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    provider = Rfc2136Provider({"server": knot.address, "tsig": tsig(knot)})
    long = (tmp_path / "long.txt").read_text()
    children = (tmp_path / "children.txt").read_text().split()
    assert all(provider.read_txt(child) for child in children)
    assert provider.read_txt(name) == [long]
    (backup,) = tmp_path.glob(f"{name}-*.json")
    env = {**os.environ, "SPFGUARD_RFC2136_SERVER": knot.address, "SPFGUARD_RFC2136_TSIG": tsig(knot)}
    undo = subprocess.run([sys.executable, "-m", "spfguard.cli.main", "rollback", str(backup), "--provider", "rfc2136",
                           "--apply", "--nameserver", knot.address, "--wait", "5"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert all(provider.read_txt(child) == [] for child in children)
    assert provider.read_txt(name) == [long] and f"restored {len(children)} name(s)" in undo.stdout
    backdoor(knot, name, ["v=spf1 ip4:192.0.2.1 ip4:192.0.2.1 -all"])


@pytest.mark.parametrize("spec", ["{secret}:hmac-sha256:{name}", "hmac-sha256:{name}:{secret}",
                                  "{name}:{secret}:hmac-sha256", "{name}:hmac-sha256", "{secret}"])
def test_a_misordered_tsig_spec_never_shows_the_secret(knot, spec, capsys, monkeypatch, tmp_path):
    text = spec.format(name=TSIG_NAME, secret=knot.tsig_secret)
    with pytest.raises(ProviderError) as info:
        Rfc2136Provider({"server": knot.address, "tsig": text})
    assert knot.tsig_secret not in str(info.value) and TSIG_NAME.rstrip(".") not in str(info.value)
    monkeypatch.setenv("SPFGUARD_RFC2136_TSIG", text)
    monkeypatch.setenv("SPFGUARD_RFC2136_SERVER", knot.address)
    code = main(["fix", "race.spfguard.test", "--nameserver", knot.address, "--provider", "rfc2136", "--apply",
                 "--backup-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2 and knot.tsig_secret not in captured.out + captured.err  # a settings error
    assert not list(tmp_path.iterdir())  # no backup either


# ---- the zone-file provider ----------------------------------------------------------------------------------

def _zone_copy(tmp_path, crlf=False):
    real = tmp_path / "real"
    real.mkdir()
    target = real / "aacn.org.zone"
    text = (DEMO_ZONES / "aacn.org.zone").read_text()
    target.write_bytes(text.replace("\n", "\r\n").encode() if crlf else text.encode())
    return target


def test_zonefile_follows_symlinks_and_keeps_mode_and_crlf(tmp_path):
    target = _zone_copy(tmp_path, crlf=True)
    os.chmod(target, 0o640)
    link = tmp_path / "link.zone"
    link.symlink_to(target)
    provider = ZoneFileProvider({"path": str(link)})
    before = provider.read_txt("aacn.org")
    after = [v if not v.startswith("v=spf1") else "v=spf1 include:_spf.google.com ~all" for v in before]
    provider.apply([Change("aacn.org", tuple(before), tuple(after))])
    assert link.is_symlink() and os.readlink(link) == str(target)
    data = target.read_bytes()
    assert b"v=spf1 include:_spf.google.com ~all" in data
    assert data.count(b"\r\n") == data.count(b"\n")  # every line still ends in CRLF
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert not list(target.parent.glob(".*spfguard-tmp"))


def test_zonefile_concurrent_writers_never_lose_an_edit(tmp_path):
    """Ten writers, each believing the record holds what it read at the start: exactly one lands, the others
    abort with the conflict message — and each later writer sees the earlier's write."""
    target = _zone_copy(tmp_path)
    provider = ZoneFileProvider({"path": str(target)})
    before = tuple(provider.read_txt("aacn.org"))
    outcomes = []

    def writer(n):
        after = tuple(v if not v.startswith("v=spf1") else f"v=spf1 ip4:192.0.2.{n} -all" for v in before)
        try:
            ZoneFileProvider({"path": str(target)}).apply([Change("aacn.org", before, after)])
            outcomes.append(("landed", n))
        except ConflictError as err:
            assert "changed since the plan was made" in str(err)
            outcomes.append(("aborted", n))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    landed = [n for kind, n in outcomes if kind == "landed"]
    assert len(outcomes) == 10 and len(landed) == 1
    assert f"v=spf1 ip4:192.0.2.{landed[0]} -all" in provider.read_txt("aacn.org")
    serials = [line for line in target.read_text().splitlines() if "SOA" in line]
    assert serials  # still a valid zone with one SOA

    # chained writers: each plans from what the previous one wrote, so all ten land in turn
    def chained(n):
        for _ in range(50):
            current = tuple(ZoneFileProvider({"path": str(target)}).read_txt("aacn.org"))
            after = tuple(v + f" x{n}=1" if v.startswith("v=spf1") else v for v in current)
            try:
                ZoneFileProvider({"path": str(target)}).apply([Change("aacn.org", current, after)])
                return
            except ConflictError:
                continue

    threads = [threading.Thread(target=chained, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = next(v for v in provider.read_txt("aacn.org") if v.startswith("v=spf1"))
    assert all(f"x{n}=1" in record for n in range(10)), record  # no edit lost



def test_the_monitor_watches_a_flattened_third_party_include(knot, tmp_path, capsys):
    """fix flattens a third-party include and records where its ranges came from; when the vendor changes them,
    the monitor says so (ranges-changed naming the include) and --auto-fix flattens it again."""
    name, inner = "flatme.spfguard.test", "thirdparty-inner.spfguard.test"
    provider = Rfc2136Provider({"server": knot.address, "tsig": tsig(knot)})
    before, inner_before = provider.read_txt(name), provider.read_txt(inner)
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[providers.rfc2136]\nserver = "{knot.address}"\ntsig = "{tsig(knot)}"\n'
                      f'[monitor]\nstate = "{tmp_path / "state.sqlite"}"\n[[monitor.domains]]\nname = "{name}"\n'
                      'provider = "rfc2136"\n')
    try:
        assert main(["fix", name, "--nameserver", knot.address, "--provider", "rfc2136", "--config", str(config),
                     "--apply", "--backup-dir", str(tmp_path), "--wait", "5"]) == 0
        out = capsys.readouterr().out
        assert "flatten include:thirdparty.spfguard.test" in out and "recorded for the monitor" in out
        (backup,) = tmp_path.glob("flatme*.json")
        assert json.loads(backup.read_text())["flattened"][0]["include"] == "thirdparty.spfguard.test"
        monitor = ["monitor", "--config", str(config), "--once", "--nameserver", knot.address]
        assert main(monitor) == 0
        capsys.readouterr()
        backdoor(knot, inner, ["v=spf1 ip4:203.0.113.0/28 ip4:203.0.113.64/28 -all"])  # the vendor adds a range
        assert main([*monitor, "--auto-fix"]) in (0, 1)
        out = capsys.readouterr().out
        assert "[ranges-changed] thirdparty.spfguard.test (thirdparty.spfguard.test) added 1 range" in out
        assert "203.0.113.64/28" in out and "auto-fix: flatme.spfguard.test: re-flattened through rfc2136" in out
        record = next(v for v in provider.read_txt(name) if v.startswith("v=spf1"))
        assert "ip4:203.0.113.64/28" in record and "include:thirdparty" not in record
    finally:
        backdoor(knot, name, before)
        backdoor(knot, inner, inner_before)
