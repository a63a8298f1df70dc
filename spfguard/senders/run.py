"""``senders`` against DNS: the tree of the domain (and of each name below it that reports name as the envelope),
the sender sets of every platform of the catalogue, ``check_host()`` today for every source, and the reverse-DNS
name of the busiest sources no published range claims.

``check_host()`` is run once per *cell*, not once per address: the boundaries of every range any term of the tree
can match cut the address space into cells, and within a cell every term matches all addresses or none, so the
evaluation takes the same path and gives the same result (and deciding term) for each of them. A report with a
hundred thousand sources costs a few hundred evaluations. A tree with terms that depend on the address itself
(``exists``, ``ptr``, macros) is evaluated per address, as receivers do."""

from __future__ import annotations

import asyncio
import bisect
import ipaddress

from spfguard.dns.base import DnsClient, Status, within
from spfguard.errors import IncompleteError
from spfguard.senders.analysis import (
    Attributor,
    Senders,
    address_int,
    classify,
    included_platforms,
    normalise_ip,
)
from spfguard.senders.reports import Reading
from spfguard.spf.evaluator import check_host_async
from spfguard.tree import Node, NodeStatus, walk_tree
from spfguard.vendors.catalogue import Catalogue, load_catalogue
from spfguard.vendors.coverage import include_targets, sender_sets

PARALLEL = 64  # evaluations and PTR look-ups in flight
MAX_PTR = 2000  # unknown sources named by reverse DNS: the busiest ones


def _boundaries(tree: Node) -> dict[int, list[int]] | None:
    """Per family, the sorted starts of the cells; None when some term's match depends on the address itself."""
    cuts: dict[int, set[int]] = {4: {0}, 6: {0}}
    for node in tree.walk():
        if node.parsed is None:
            continue
        infos = {info.term: info for info in node.terms}
        for mech in node.parsed.reachable:
            info = infos.get(mech.render())
            if mech.kind in ("exists", "ptr") or (info is not None and info.macro):
                return None
            networks = [mech.network] if mech.network is not None else []
            if mech.kind in ("a", "mx") and info is not None:
                networks += [ipaddress.ip_network(f"{a}/{mech.cidr4 if mech.cidr4 is not None else 32}", strict=False)
                             for a in info.addresses4]
                networks += [ipaddress.ip_network(f"{a}/{mech.cidr6 if mech.cidr6 is not None else 128}",
                                                  strict=False) for a in info.addresses6]
            for network in networks:
                cuts[network.version].update((int(network.network_address), int(network.broadcast_address) + 1))
    return {v: sorted(c) for v, c in cuts.items()}


async def _results(domain: str, tree: Node, ips: list[str], dns: DnsClient) -> dict[str, tuple[str, str | None]]:
    """check_host() today for each IP as the MAIL FROM domain ``domain``, with the term of its own record that
    decided — once per cell (see the module docstring)."""
    boundaries = _boundaries(tree)
    gate = asyncio.Semaphore(PARALLEL)

    def cell(ip: str):
        if boundaries is None:
            return ip
        version, value = address_int(ip)
        return version, bisect.bisect_right(boundaries[version], value)

    representative: dict = {}
    for ip in ips:
        representative.setdefault(cell(ip), ip)

    async def evaluate(ip: str) -> tuple[str, str | None]:
        async with gate:
            # RFC 7208 §2.4: the check of the MAIL FROM identity; the record of the envelope's domain decides
            found = await check_host_async(ip, domain, f"postmaster@{domain}", helo=domain, dns=dns)
        # the first step of the path is the term of the domain's own record that decided
        return found.result, (found.path[0].term if found.path else None)

    keys = list(representative)
    outcomes = dict(zip(keys, await asyncio.gather(*(evaluate(representative[k]) for k in keys)), strict=True))
    if boundaries is None:
        return outcomes
    return {ip: outcomes[cell(ip)] for ip in ips}


async def analyse(domain: str, reading: Reading, dns: DnsClient, catalogue: Catalogue | None = None,
                  max_ptr: int = MAX_PTR) -> Senders:
    catalogue = catalogue or load_catalogue()
    tree, senders = await asyncio.gather(walk_tree(domain, dns), sender_sets(list(catalogue.platforms), dns,
                                                                             catalogue))
    if any(n.status == NodeStatus.TEMPERROR for n in tree.walk()):  # "today" cannot be said: nothing would be right
        raise IncompleteError(f"could not read the SPF tree of {domain}: "
                              f"{next(n.error for n in tree.walk() if n.status == NodeStatus.TEMPERROR)}")
    included = included_platforms(include_targets(tree), catalogue)
    attribute = Attributor(senders, set(included))
    rows = [(normalise_ip(row.ip), row) for report in reading.reports for row in report.rows
            if not row.header_from or within(row.header_from, domain)]
    # the names SPF was checked for: the domain, and names below it a report gives as the envelope
    envelopes: dict[str, set[str]] = {}
    for ip, row in rows:
        envelope = row.envelope or row.header_from or domain
        if within(envelope, domain):
            envelopes.setdefault(envelope, set()).add(ip)
    results: dict = {}
    for envelope, ips in sorted(envelopes.items()):
        envelope_tree = tree if envelope == domain else await walk_tree(envelope, dns)
        results[envelope] = await _results(envelope, envelope_tree, sorted(ips), dns)
    traffic: dict[str, int] = {}
    for ip, row in rows:
        if attribute(ip) is None:
            traffic[ip] = traffic.get(ip, 0) + row.count
    unclaimed = sorted(traffic, key=lambda ip: -traffic[ip])
    gate = asyncio.Semaphore(PARALLEL)

    async def ptr(ip: str) -> str | None:
        async with gate:
            answer = await dns.query(ipaddress.ip_address(ip).reverse_pointer, "PTR")
        return answer.records[0] if answer.status is Status.ANSWER and answer.records else None

    looked_up = unclaimed[:max_ptr]
    names = await asyncio.gather(*(ptr(ip) for ip in looked_up))
    found = classify(domain, tree.record, reading.reports, catalogue, attribute, results,
                     dict(zip(looked_up, names, strict=True)), included)
    found.skipped, found.duplicates, found.skipped_rows = reading.skipped, reading.duplicates, reading.skipped_rows
    found.ptr_limited = max(0, len(unclaimed) - max_ptr)
    found.unresolved = [(s.platform.name, s.error) for s in senders if s.error is not None]
    return found

