"""The planner's passes and its proof, on in-memory DNS."""

from __future__ import annotations

import asyncio

import pytest

from spfguard.dns.overlay import OverlayDns
from spfguard.errors import IncompleteError
from spfguard.fix.planner import FixOptions, PlanError, plan_fix
from spfguard.fix.proof import prove
from spfguard.ipset import IPSet
from spfguard.policy import decide
from spfguard.spf import check_host, parse_record
from spfguard.tree import walk_tree
from tests.helpers import zone


def plan(domain, dns, **options):
    return asyncio.run(plan_fix(domain, dns, FixOptions(**options)))


def leaf(n, extra=""):
    return [f"v=spf1 ip4:198.51.{n}.0/24 {extra}-all"]


def many_includes(count, record_extra=""):
    names = {f"v{n}.example.net": leaf(n) for n in range(count)}
    record = "v=spf1 " + " ".join(f"include:v{n}.example.net" for n in range(count)) + f" {record_extra}-all"
    return record, names


def test_duplicates_and_redundant_ranges_are_dropped_and_nothing_else_changes():
    dns = zone(**{"example.com": ["v=spf1 ip4:192.0.2.0/24 ip4:192.0.2.7 a a include:v1.example.net "
                                  "ip4:198.51.1.128/25 -all", ("A", "203.0.113.5"), "token=keep-me"],
                  "v1.example.net": leaf(1)})
    p = plan("example.com", dns)
    assert p.records_after["example.com"] == "v=spf1 ip4:192.0.2.0/24 a include:v1.example.net -all"
    assert p.verdict == "equivalent" and p.intended == []
    (change,) = p.changes
    assert "token=keep-me" in change.after and change.before[0].startswith("v=spf1")


def test_redirect_stays_a_redirect_and_its_all_applies():
    dns = zone(**{"example.com": ["v=spf1 ip4:192.0.2.1 ip4:192.0.2.1 redirect=_spf.example.com"],
                  "_spf.example.com": ["v=spf1 ip4:198.51.100.0/24 -all"]})
    p = plan("example.com", dns, flatten="always")
    assert p.records_after["example.com"] == "v=spf1 ip4:192.0.2.1 redirect=_spf.example.com"
    assert p.verdict == "equivalent"


def test_exp_macros_and_unknown_modifiers_are_kept():
    dns = zone(**{"example.com": ["v=spf1 exists:%{i}._ip.example.com include:v1.example.net -all "
                                  "exp=why.example.com x-owner=it"], "v1.example.net": leaf(1)})
    p = plan("example.com", dns, flatten="always")
    record = p.records_after["example.com"]
    assert record == "v=spf1 exists:%{i}._ip.example.com ip4:198.51.1.0/24 -all exp=why.example.com x-owner=it"


def test_over_the_limit_is_flattened_to_10_with_a_proof():
    record, names = many_includes(12)
    dns = zone(**{"example.com": [record]}, **names)
    p = plan("example.com", dns)
    assert p.lookups_before == 12 and p.lookups_after == 10
    assert p.verdict == "equivalent" and p.proof["samples"] >= 3 * 12  # both ends and a middle of each range
    assert sum(a.startswith("flatten ") for a in p.actions) == 2


def test_keep_and_never():
    record, names = many_includes(12)
    dns = zone(**{"example.com": [record]}, **names)
    kept = plan("example.com", dns, keep=["v11.example.net", "v10.example.net"])
    assert "include:v11.example.net" in kept.records_after["example.com"]
    assert "include:v10.example.net" in kept.records_after["example.com"]
    with pytest.raises(PlanError, match="12 lookups and nothing left that can be flattened"):
        plan("example.com", dns, flatten="never")


def test_macro_and_exists_includes_cannot_be_flattened():
    names = {f"x{n}.example.net": ["v=spf1 exists:%{i}.x.example.net -all"] for n in range(11)}
    record = "v=spf1 " + " ".join(f"include:x{n}.example.net" for n in range(11)) + " -all"
    dns = zone(**{"example.com": [record]}, **names)
    with pytest.raises(PlanError, match="nothing left that can be flattened"):
        plan("example.com", dns)


def test_long_results_are_chained_within_255_and_450_bytes():
    names = {f"v{n}.example.net": ["v=spf1 " + " ".join(f"ip4:10.{n}.{k}.1" for k in range(0, 40, 2)) + " -all"]
             for n in range(6)}
    record = "v=spf1 " + " ".join(f"include:v{n}.example.net" for n in range(6)) + " ~all"
    dns = zone(**{"example.com": [record]}, **names)
    p = plan("example.com", dns, flatten="always")
    chain = sorted(n for n in p.records_after if n != "example.com")
    assert chain[0] == "_spf1.example.com" and len(chain) >= 2
    assert all(len(v.encode()) <= 450 for v in p.records_after.values())
    assert p.records_after["example.com"] == "v=spf1 include:_spf1.example.com ~all"
    order = [c.name for c in p.changes]
    assert order[-1] == "example.com" and order[0] == chain[-1]  # the deepest child first, the apex last
    assert p.verdict == "equivalent" and p.lookups_after == len(chain)
    applied = OverlayDns(dns, {c.name: list(c.after) for c in p.changes})
    for ip in ("10.3.20.1", "10.5.38.1", "10.0.0.1"):
        assert check_host(ip, "example.com", "a@example.com", dns=applied).result == "pass"
    assert check_host("10.0.1.1", "example.com", "a@example.com", dns=applied).result == "softfail"


def test_missing_vendor_is_added_as_an_intended_difference():
    dns = zone(**{"example.com": ["v=spf1 ip4:192.0.2.1 -all"],
                  "spf.protection.outlook.com": ["v=spf1 ip4:40.107.0.0/16 ip6:2a01:111:f403::/49 -all"]})
    p = plan("example.com", dns, expect=["microsoft365"])
    assert p.records_after["example.com"] == "v=spf1 ip4:192.0.2.1 include:spf.protection.outlook.com -all"
    assert p.verdict == "equivalent except intended differences"
    (diff,) = p.intended
    assert diff.cidrs == ["40.107.0.0/16", "2a01:111:f403::/49"] and (diff.before, diff.after) == ("fail", "pass")


def test_unfixable_domains():
    dns = zone(**{"two.example.com": ["v=spf1 -all redirect=x.example.com", "v=spf1 ~all"],
                  "bad.example.com": ["v=spf1 foo"],
                  "slow.example.com": ["v=spf1 include:t.example.com -all"], "t.example.com": ["TIMEOUT"]})
    with pytest.raises(PlanError, match="merge them by hand"):
        plan("two.example.com", dns)
    with pytest.raises(PlanError, match="unknown mechanism"):
        plan("bad.example.com", dns)
    with pytest.raises(PlanError, match="no SPF record"):
        plan("none.example.com", dns)
    with pytest.raises(IncompleteError, match="try again later"):  # exit 3, as check says for the same tree
        plan("slow.example.com", dns)


def test_nothing_to_do_is_an_empty_plan():
    dns = zone(**{"example.com": ["v=spf1 ip4:192.0.2.1 -all"]})
    p = plan("example.com", dns)
    assert p.empty and p.changes == []


def test_the_proof_catches_a_changed_verdict():
    """A hand-made 'proposal' that moves a range behind a -ip4 must be caught, symbolically and by sampling."""
    dns = zone(**{"example.com": ["v=spf1 ip4:192.0.2.0/24 -ip4:192.0.2.128/25 -all"]})
    proposal = OverlayDns(dns, {"example.com": ["v=spf1 -ip4:192.0.2.128/25 ip4:192.0.2.0/24 -all"]})

    async def run():
        old, new = await walk_tree("example.com", dns), await walk_tree("example.com", proposal)
        return await prove("example.com", dns, proposal, decide(old), decide(new), {}, [])

    proof = asyncio.run(run())
    assert not proof.ok
    assert [str(n) for n in proof.unintended[4].cidrs()] == ["192.0.2.128/25"]
    assert any(m["ip"] == "192.0.2.128" and m["before"] == "pass" and m["after"] == "fail"
               for m in proof.sample_mismatches)


def test_plan_json_has_expected_old_values_and_a_checksum():
    record, names = many_includes(11)
    dns = zone(**{"example.com": [record]}, **names)
    data = plan("example.com", dns).to_json()
    assert data["changes"][0]["before"] == [record]
    assert data["checksum"].startswith("sha256:") and len(data["checksum"]) == 71
    assert plan("example.com", dns).checksum == data["checksum"]  # deterministic


def test_proposal_parses_and_respects_limits():
    record, names = many_includes(15)
    dns = zone(**{"example.com": [record]}, **names)
    p = plan("example.com", dns)
    for text in p.records_after.values():
        parse_record(text)
    assert p.lookups_after <= 10 and max(p.voids_after) <= 2
    assert IPSet.of(4, ["198.51.0.0/24"])  # keep the import honest
