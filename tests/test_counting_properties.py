"""Issue #10: ``check``'s worst-case counter against ``eval`` on seeded random trees (tests/support/spfgen.py).

* whenever ``eval`` gives some client permerror, ``check``'s verdict is permerror (for an IPv6 client:
  permerror, or "permerror for IPv6 senders") — the counter never calls a broken record valid;
* whenever an evaluation without limits reaches the end with no mechanism matching (the worst case the
  counter models), ``check``'s lookup total equals the DNS-querying terms ``eval`` met, and ``check``'s void
  count for the client's family is at least ``eval``'s (equal when no ``a`` term depends on macros and no
  ``ptr`` term is reached).

``SPFGUARD_FUZZ_TREES`` sets the number of trees (default 1500, under 10 s).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random

from spfguard.audit import audit
from spfguard.spf.evaluator import UNLIMITED, check_host_async
from tests.support.spfgen import generate

TREES = int(os.environ.get("SPFGUARD_FUZZ_TREES", "1500"))
HELO = "mail.gen.test"


def _fell_through(result) -> bool:
    """No mechanism matched anywhere but ``all``: every reachable term was evaluated."""
    return result.result not in ("permerror", "temperror") and not any(
        step.matched and step.term.lstrip("+-~?").lower() != "all" for step in result.trace)


async def _check_tree(seed: int, stats: dict) -> list[str]:
    tree = generate(random.Random(seed))
    dns = tree.dns()
    report = await audit(tree.root, dns, dmarc=False)
    # worst-case void lookups that a given client may not make: a macro a-term's name may exist, and a client
    # may have reverse DNS; without them the void count is exact
    exact = not any((info.macro and info.term.lstrip("+-~?").lower().startswith("a:"))
                    or info.term.lstrip("+-~?").lower().startswith("ptr")
                    for node in report.tree.walk() for info in node.terms)
    problems = []
    for ip in tree.clients:
        version = ipaddress.ip_address(ip).version
        sender = f"postmaster@{tree.root}"
        limited = await check_host_async(ip, tree.root, sender, helo=HELO, dns=dns, timestamp=0)
        if limited.result == "permerror":
            stats["permerror"] += 1
            allowed = {"permerror"} | ({"permerror for IPv6 senders"} if version == 6 else set())
            if report.verdict not in allowed:
                problems.append(f"{ip}: eval permerror ({limited.reason}) but check says {report.verdict}")
        unlimited = await check_host_async(ip, tree.root, sender, helo=HELO, dns=dns, timestamp=0, limits=UNLIMITED)
        if not _fell_through(unlimited) or report.tree.status != "ok":
            continue
        stats["fell through"] += 1
        if unlimited.lookups != report.lookups:
            problems.append(f"{ip}: eval met {unlimited.lookups} DNS-querying terms, check counts {report.lookups}")
        voids = report.voids4 if version == 4 else report.voids6
        if unlimited.void_lookups > voids or (exact and unlimited.void_lookups != voids):
            problems.append(f"{ip}: eval made {unlimited.void_lookups} void lookups, check counts {voids}")
    return [f"seed {seed}: {p}\n{tree.describe()}" for p in problems[:1]]


def test_check_agrees_with_eval_on_random_trees():
    stats = {"permerror": 0, "fell through": 0}

    async def run():
        failures = []
        for seed in range(TREES):
            failures += await _check_tree(seed, stats)
        return failures

    failures = asyncio.run(run())
    assert not failures, failures[0]
    # the generator reaches both properties often enough to mean something
    assert stats["permerror"] > TREES and stats["fell through"] > TREES, stats
