"""Small helpers for building in-memory DNS data in tests."""

from __future__ import annotations

import asyncio

from spfguard.audit import audit
from spfguard.dns.memory import MemoryDns
from spfguard.spf import check_host
from spfguard.tree import walk_tree


def zone(**names) -> MemoryDns:
    """``zone(**{"example.com": ["v=spf1 -all", ("A", "192.0.2.1")]})``: a bare string is a TXT record."""
    dns = MemoryDns()
    for name, entries in names.items():
        for entry in entries:
            if isinstance(entry, str):
                dns.add(name, "TXT" if entry != "TIMEOUT" else "TIMEOUT", entry)
            else:
                dns.add(name, *entry)
    return dns


def run_walk(domain, dns):
    return asyncio.run(walk_tree(domain, dns))


def run_audit(domain, dns, **kwargs):
    return asyncio.run(audit(domain, dns, **kwargs))


def result(ip, domain, dns, sender=None, **kwargs):
    return check_host(ip, domain, sender or f"someone@{domain}", dns=dns, **kwargs)


def codes(report) -> list[str]:
    return [f.code for f in report.findings]
