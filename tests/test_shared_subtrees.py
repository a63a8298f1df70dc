"""#25: within a run a vendor subtree is walked once and shared by every domain that includes it — and sharing
changes nothing a report says."""

from __future__ import annotations

import asyncio
import json

from bench.fleet import write_zones
from spfguard.audit import audit
from spfguard.dns.zonefile import ZoneFileDns
from spfguard.report.jsonout import report_to_json
from spfguard.tree import walk_tree


def _zone(tmp_path, text: str) -> ZoneFileDns:
    path = tmp_path / "t.test.zone"
    path.write_text("$ORIGIN t.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\n"
                    "ns1 IN A 127.0.0.1\n" + text)
    return ZoneFileDns.load(path)


def _walks(dns, *names: str, together: bool = False):
    """The trees of ``names``: one after the other (a later walk may reuse an earlier one's subtrees), or all at
    once, within 10 s (walks that waited on each other would never end)."""
    async def run():
        if together:
            return await asyncio.wait_for(asyncio.gather(*(walk_tree(n, dns) for n in names)), 10)
        return [await walk_tree(n, dns) for n in names]
    return asyncio.run(run())


def _reports(dns, domains):
    async def run():
        return [report_to_json(await audit(d, dns)) for d in domains]
    return asyncio.run(run())


def test_a_fleet_reports_the_same_with_and_without_shared_subtrees(tmp_path):
    (tmp_path / "zones").mkdir()
    domains, _ = write_zones(tmp_path / "zones", 60, seed=11)
    shared = ZoneFileDns.load(*sorted((tmp_path / "zones").glob("*.zone")))
    alone = ZoneFileDns.load(*sorted((tmp_path / "zones").glob("*.zone")))
    alone.shares_subtrees = False
    with_sharing, without = _reports(shared, domains), _reports(alone, domains)
    assert json.dumps(with_sharing, sort_keys=True) == json.dumps(without, sort_keys=True)
    # one walk per vendor record reached, none of a domain's own records
    vendor_nodes = [n["name"] for r in with_sharing for n in _nodes(r["tree"]) if n["name"].endswith(".vendors.test")]
    assert {name for name, _ in shared._spf_subtrees} == set(vendor_nodes)
    assert len(set(vendor_nodes)) * 2 < len(vendor_nodes)  # walked once each, reached many times


def _nodes(tree):
    yield tree
    for child in tree["children"]:
        yield from _nodes(child)


def test_a_vendor_subtree_is_one_object_shared_by_every_domain(tmp_path):
    dns = _zone(tmp_path, '\n'.join([
        'a IN TXT "v=spf1 include:_spf.vendor.t.test -all"',
        'b IN TXT "v=spf1 ip4:192.0.2.1 include:_spf.vendor.t.test ~all"',
        '_spf.vendor IN TXT "v=spf1 ip4:198.51.100.0/24 include:deep.vendor.t.test ~all"',
        'deep.vendor IN TXT "v=spf1 ip4:203.0.113.0/24 ~all"']))

    a, b = _walks(dns, "a.t.test", "b.t.test")
    assert [i.child for i in a.terms if i.child][0] is [i.child for i in b.terms if i.child][0]  # walked once
    assert a.lookups_for(4) == 2 and b.lookups_for(4) == 2


def test_a_subtree_that_loops_back_to_the_domain_is_not_reused_where_it_would_hide_the_loop(tmp_path):
    """vendor includes c: walked from a it is a plain subtree; reached from c it is a loop (permerror), and
    reusing a's copy there would hide it."""
    dns = _zone(tmp_path, '\n'.join([
        'a IN TXT "v=spf1 include:v.t.test -all"',
        'c IN TXT "v=spf1 include:v.t.test -all"',
        'v IN TXT "v=spf1 include:c.t.test ~all"']))

    a, c = _walks(dns, "a.t.test", "c.t.test")
    fresh = ZoneFileDns(dns.zones)
    fresh.shares_subtrees = False
    alone = asyncio.run(walk_tree("c.t.test", fresh))
    assert json.dumps(report_to_json_tree(c)) == json.dumps(report_to_json_tree(alone))
    assert any(n.status == "loop" for n in c.walk())


def test_concurrent_walks_of_one_vendor_agree(tmp_path):
    """Walks running at the same moment that include each other do not deadlock, and still agree."""
    dns = _zone(tmp_path, '\n'.join([
        'x IN TXT "v=spf1 include:y.t.test -all"',
        'y IN TXT "v=spf1 include:x.t.test -all"']))

    x, y = _walks(dns, "x.t.test", "y.t.test", together=True)
    assert any(n.status == "loop" for n in x.walk()) and any(n.status == "loop" for n in y.walk())


def test_domains_walked_at_once_wait_for_one_walk_of_a_vendor(tmp_path):
    """The first window of a fleet run reaches each vendor together: one walk reads it, the rest wait for it."""
    dns = _zone(tmp_path, '\n'.join([*(f'd{k} IN TXT "v=spf1 ip4:192.0.2.{k} include:_spf.v.t.test -all"'
                                       for k in range(20)),
                                     '_spf.v IN TXT "v=spf1 ip4:198.51.100.0/24 include:s1.v.t.test ~all"',
                                     's1.v IN TXT "v=spf1 ip4:203.0.113.0/24 ~all"']))

    trees = _walks(dns, *(f"d{k}.t.test" for k in range(20)), together=True)
    vendors = {id(t.children[0]) for t in trees}
    assert len(vendors) == 1 and trees[0].children[0].shared and not trees[0].shared


def test_waiting_walks_never_wait_on_each_other_across_a_vendor_loop(tmp_path):
    """v1 includes v2 and v2 includes v1. Walks reading a vendor for sharing never wait, so domains that reach
    the loop from either end at once all finish, each seeing the loop."""
    dns = _zone(tmp_path, '\n'.join([*(f'a{k} IN TXT "v=spf1 include:v1.t.test -all"' for k in range(10)),
                                     *(f'b{k} IN TXT "v=spf1 include:v2.t.test -all"' for k in range(10)),
                                     'v1 IN TXT "v=spf1 include:v2.t.test ~all"',
                                     'v2 IN TXT "v=spf1 include:v1.t.test ~all"']))

    trees = _walks(dns, *(f"{p}{k}.t.test" for k in range(10) for p in "ab"), together=True)
    assert all(any(n.status == "loop" for n in t.walk()) for t in trees)


def report_to_json_tree(node):
    from spfguard.report.jsonout import node_to_json
    from spfguard.tree import running_totals

    return node_to_json(node, running_totals(node))


def test_a_fleet_run_keeps_only_the_shared_trees(tmp_path):
    """What is kept across domains (decisions, parsed records) belongs to shared vendor trees: a domain's own tree
    is freed once its report is, so memory does not grow with the fleet (issue #25)."""
    import gc
    import weakref

    from spfguard import policy
    from spfguard.app.check import CheckRequest, check_domains

    (tmp_path / "zones").mkdir()
    domains, _ = write_zones(tmp_path / "zones", 80, seed=5)
    dns = ZoneFileDns.load(*sorted((tmp_path / "zones").glob("*.zone")))
    roots, vendors = [], set()

    async def run():
        async for _, report in check_domains(CheckRequest(domains), dns):
            assert not report.tree.shared
            policy.decide(report.tree)  # as the monitor's snapshot does
            roots.append(weakref.ref(report.tree))
            vendors.update(id(n) for n in report.tree.walk() if n.shared)

    asyncio.run(run())
    gc.collect()
    assert vendors and all(root() is None for root in roots)
    assert all(node.shared for node, _ in policy._INCLUDED.values())
