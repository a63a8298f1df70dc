"""``senders`` against DNS: the domain's tree, the sender sets of every platform of the catalogue, ``check_host()``
today for every source IP, and the reverse-DNS name of the sources no published range claims."""

from __future__ import annotations

import asyncio
import ipaddress

from spfguard.dns.base import DnsClient, Status
from spfguard.errors import IncompleteError
from spfguard.senders.analysis import Attributor, Senders, classify, included_platforms
from spfguard.senders.reports import Reading
from spfguard.spf.evaluator import check_host_async
from spfguard.tree import walk_tree
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.coverage import sender_sets

PARALLEL = 64  # check_host() evaluations in flight


async def analyse(domain: str, reading: Reading, dns: DnsClient) -> Senders:
    catalogue = load_catalogue()
    tree, senders = await asyncio.gather(walk_tree(domain, dns), sender_sets(list(catalogue.platforms), dns, catalogue))
    if any(n.status == "temperror" for n in tree.walk()):  # "today" cannot be said: nothing would be right
        raise IncompleteError(f"could not read the SPF tree of {domain}: "
                              f"{next(n.error for n in tree.walk() if n.status == 'temperror')}")
    included = included_platforms({n.name for n in tree.walk()}, catalogue)
    attribute = Attributor(senders, set(included))
    ips = sorted({row.ip for report in reading.reports for row in report.rows})
    gate = asyncio.Semaphore(PARALLEL)

    async def result(ip: str) -> tuple[str, str | None]:
        async with gate:
            # RFC 7208 §2.4: the check of the MAIL FROM identity; the domain's own record decides
            found = await check_host_async(ip, domain, f"postmaster@{domain}", helo=domain, dns=dns)
        # the first step of the path is the term of the domain's own record that decided
        return found.result, (found.path[0].term if found.path else None)

    async def ptr(ip: str) -> str | None:
        async with gate:
            answer = await dns.query(ipaddress.ip_address(ip).reverse_pointer, "PTR")
        return answer.records[0] if answer.status is Status.ANSWER and answer.records else None

    unclaimed = [ip for ip in ips if attribute(ip) is None]
    results, names = await asyncio.gather(asyncio.gather(*(result(ip) for ip in ips)),
                                          asyncio.gather(*(ptr(ip) for ip in unclaimed)))
    senders_found = classify(domain, tree.record, reading.reports, catalogue, attribute,
                             dict(zip(ips, results, strict=True)), dict(zip(unclaimed, names, strict=True)),
                             included)
    senders_found.skipped, senders_found.duplicates = reading.skipped, reading.duplicates
    senders_found.unresolved = [(s.platform.name, s.error) for s in senders if s.error is not None]
    return senders_found

