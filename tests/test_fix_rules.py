"""Issue #12: the planner's rules — never refuse an improvement, never keep a danger silently, chain only when
needed, list every action, merge two records, provenance, --pin, --all, --plan-out/--from-plan."""

from __future__ import annotations

import asyncio
import json

import pytest

from spfguard.cli.main import main
from spfguard.errors import IncompleteError, PlanError
from spfguard.fix.planner import FixOptions, plan_fix
from spfguard.spf import check_host
from tests.helpers import run_audit, zone


def plan(domain, dns, **options):
    return asyncio.run(plan_fix(domain, dns, FixOptions(**options)))


def v6_void_fleet(extra_includes=8):
    """12 lookups; its a/mx hosts have A but no AAAA: IPv6 senders already see 4 void lookups."""
    hosts = {f"h{n}.example.com": [("A", f"192.0.2.{n}")] for n in (1, 2, 3)}
    leaves = {f"v{n}.example.net": [f"v=spf1 ip4:198.51.{n}.0/24 -all"] for n in range(extra_includes)}
    record = ("v=spf1 a:h1.example.com a:h2.example.com mx:vendor-b.example.com "
              + " ".join(f"include:v{n}.example.net" for n in range(extra_includes)) + " -all")
    return zone(**{"example.com": [record], "vendor-b.example.com": [("MX", (10, "h3.example.com"))]}, **hosts,
                **leaves)


def test_a_plan_that_fixes_lookups_and_keeps_the_v6_void_problem_names_it_and_offers_pin():
    dns = v6_void_fleet()
    assert run_audit("example.com", dns, dmarc=False).verdict == "permerror"
    p = plan("example.com", dns)
    assert p.proven and p.lookups_after <= 10 and p.voids_after == (0, 3)
    (remaining,) = p.remaining
    assert "IPv6 senders: 3 void lookups" in remaining and "h3.example.com has no AAAA" in remaining
    assert "--pin a:h1.example.com --pin a:h2.example.com --pin mx:vendor-b.example.com" in remaining
    pinned = plan("example.com", dns, pin=["mx:vendor-b.example.com", "a:h1.example.com", "a:h2.example.com"])
    assert pinned.proven and pinned.voids_after == (0, 0) and not pinned.remaining
    assert "ip4:192.0.2.3" in pinned.records_after["example.com"]
    assert any(a.startswith("pin mx:vendor-b.example.com to its 1 current address") for a in pinned.actions)
    with pytest.raises(PlanError, match="--pin a:nothere.example.com: no such a/mx term"):
        plan("example.com", dns, pin=["a:nothere.example.com"])


def test_plus_all_is_never_nothing_to_change():
    dns = zone(**{"example.com": ["v=spf1 ip4:192.0.2.0/24 +all"]})
    p = plan("example.com", dns)
    assert p.empty and p.problems and p.problems[0].startswith("error permissive-all")
    assert "--all softfail or --all fail" in p.problems[0]
    fixed = plan("example.com", dns, all="softfail")
    assert fixed.records_after["example.com"] == "v=spf1 ip4:192.0.2.0/24 ~all"
    assert fixed.verdict == "equivalent except intended differences" and not fixed.problems
    (diff,) = fixed.intended
    assert (diff.before, diff.after) == ("pass", "softfail")
    assert check_host("192.0.2.7", "example.com", dns=dns).result == "pass"


def test_question_mark_all_and_wide_ranges_are_explained():
    dns = zone(**{"example.com": ["v=spf1 ip4:10.0.0.0/8 ?all"]})
    p = plan("example.com", dns)
    assert p.empty and len(p.problems) == 2 and all(x.startswith("warning permissive-all") for x in p.problems)
    added = plan("example.com", dns, all="fail")
    assert added.records_after["example.com"] == "v=spf1 ip4:10.0.0.0/8 -all"
    none = zone(**{"example.com": ["v=spf1 ip4:192.0.2.1"]})
    assert plan("example.com", none, all="fail").records_after["example.com"] == "v=spf1 ip4:192.0.2.1 -all"


def test_cli_exit_codes_for_unfixed_errors(capsys, tmp_path):
    path = tmp_path / "example.com.zone"
    path.write_text('$ORIGIN example.com.\n$TTL 300\n@ SOA ns h 1 3600 600 86400 300\n@ NS ns\n'
                    '@ TXT "v=spf1 +all"\n')
    assert main(["fix", "example.com", "--zone", str(path)]) == 1
    out = capsys.readouterr().out
    assert "no automatic change" in out and "nothing to change" not in out and "--all softfail" in out
    assert main(["fix", "example.com", "--zone", str(path), "--all", "fail"]) == 0
    assert '+example.com TXT "v=spf1 -all"' in capsys.readouterr().out


def test_a_long_record_that_aggregation_shrinks_is_not_chained():
    ranges = " ".join(f"ip4:198.51.100.{n}" for n in range(0, 64))  # 64 addresses = one /26
    dns = zone(**{"example.com": [f"v=spf1 {ranges} -all"]})
    p = plan("example.com", dns)
    assert p.records_after == {"example.com": "v=spf1 ip4:198.51.100.0/26 -all"} and p.proven
    assert any("aggregate 64" in a or "drop" in a for a in p.actions)


def test_every_change_has_an_action():
    dns = zone(**{"example.com": ["v=spf1 IP4:192.0.2.1 -ALL"]})
    p = plan("example.com", dns)
    assert p.changes and p.actions


def test_a_long_record_of_includes_only_is_a_one_line_reason():
    names = {f"vendor-with-a-rather-long-name-{n}.example.net": ["v=spf1 exists:%{i}.x.example.net -all"]
             for n in range(9)}
    record = "v=spf1 " + " ".join(f"include:{n}" for n in names) + " -all"
    dns = zone(**{"example.com": [record]}, **names)
    with pytest.raises(PlanError, match="no ip4/ip6 ranges to move"):
        plan("example.com", dns)


def test_two_records_are_merged_and_proven():
    dns = zone(**{"example.com": ["v=spf1 ip4:192.0.2.0/24 include:v.example.net -all",
                                  "v=spf1 ip4:198.51.100.0/24 -all", "token=keep"],
                  "v.example.net": ["v=spf1 ip4:203.0.113.0/24 -all"]})
    p = plan("example.com", dns)
    assert p.records_after["example.com"] == ("v=spf1 ip4:192.0.2.0/24 include:v.example.net "
                                              "ip4:198.51.100.0/24 -all")
    assert p.verdict == "equivalent except intended differences" and p.actions[0].startswith("merge the 2")
    (change,) = p.changes
    assert len(change.before) == 3 and "token=keep" in change.after and len(change.after) == 2
    assert p.proof["merge"]["unintended_ranges"] == [] and p.proof["merge"]["samples"] > 0


def test_flattened_includes_carry_their_provenance():
    leaves = {f"v{n}.example.net": [f"v=spf1 ip4:198.51.{n}.0/24 -all"] for n in range(11)}
    record = "v=spf1 " + " ".join(f"include:v{n}.example.net" for n in range(11)) + " -all"
    dns = zone(**{"example.com": [record]}, **leaves)
    p = plan("example.com", dns)
    (flat,) = p.flattened
    assert flat.include == "v0.example.net" and flat.ranges == ["198.51.0.0/24"]
    assert p.to_json()["flattened"] == [{"include": "v0.example.net", "ranges": ["198.51.0.0/24"]}]
    assert "flatten include:v0.example.net into 1 published ip4/ip6 range(s) (1 lookup saved)" in p.actions


def test_reflatten_replaces_a_sources_old_ranges_by_its_current_ones():
    dns = zone(**{"example.com": ["v=spf1 ip4:198.51.7.0/24 ip4:192.0.2.1 -all"],
                  "vendor.example.net": ["v=spf1 ip4:198.51.8.0/24 -all"]})
    p = plan("example.com", dns, reflatten={"vendor.example.net": ["198.51.7.0/24"]})
    assert p.records_after["example.com"] == "v=spf1 ip4:198.51.8.0/24 ip4:192.0.2.1 -all"
    assert p.verdict == "equivalent except intended differences"
    assert p.flattened[0].ranges == ["198.51.8.0/24"]


def test_plan_out_and_from_plan_round_trip(capsys, tmp_path, monkeypatch):
    import shutil

    from tests.conftest import DEMO_ZONES
    zones = tmp_path / "zones"
    shutil.copytree(DEMO_ZONES, zones)
    monkeypatch.setenv("SPFGUARD_ZONEFILE", str(zones / "aacn.org.zone"))
    out = tmp_path / "plan.json"
    assert main(["fix", "aacn.org", "--zone", str(zones), "--expect", "microsoft365", "--plan-out", str(out)]) == 0
    data = json.loads(out.read_text())
    capsys.readouterr()
    assert main(["fix", "--from-plan", str(out), "--provider", "zonefile", "--apply", "--zone", str(zones),
                 "--wait", "2", "--backup-dir", str(tmp_path)]) == 0
    assert "include:spf.protection.outlook.com" in (zones / "aacn.org.zone").read_text()
    assert data["checksum"] in capsys.readouterr().out
    # a second time: the published values are no longer the plan's "before"
    assert main(["fix", "--from-plan", str(out), "--provider", "zonefile", "--apply"]) == 1
    assert "changed since the plan was made" in capsys.readouterr().err
    # an edited plan is refused
    data["changes"][0]["after"] = ["v=spf1 +all"]
    out.write_text(json.dumps(data))
    assert main(["fix", "--from-plan", str(out), "--provider", "zonefile", "--apply"]) == 2
    assert "checksum does not match" in capsys.readouterr().err


def test_every_planner_input_gives_a_plan_or_a_reason():
    """The random trees of the counting tests (tests/support/spfgen.py) through the planner: a plan, or a one-line
    PlanError (or IncompleteError, exit 3, when a timeout leaves the tree unread) — never another exception (which
    the CLI would report as a bug)."""
    import random

    from tests.support.spfgen import generate

    outcomes = {"plan": 0, "reason": 0}
    for seed in range(150):
        tree = generate(random.Random(seed))
        for options in (FixOptions(), FixOptions(flatten="always"), FixOptions(all="fail")):
            try:
                p = asyncio.run(plan_fix(tree.root, tree.dns(), options))
            except (PlanError, IncompleteError) as err:
                assert "\n" not in str(err), err
                outcomes["reason"] += 1
                continue
            outcomes["plan"] += 1
            assert p.proven, (seed, options, p.proof)  # the planner proposes only what it can prove
    assert outcomes["plan"] > 200 and outcomes["reason"] > 50, outcomes
