"""Prove a proposed record set before showing it.

Two independent checks against the same DNS data:

* symbolic — the exact address sets each result is given (:mod:`spfguard.policy`) for the current tree
  (without processing limits: what its owner meant) and the proposed one; every address whose result
  differs must lie in an intended difference;
* sampled — ``check_host()`` itself, for every boundary of every authorised range of either record set and
  addresses inside and just outside each, in both address families: the current set evaluated without
  limits, the proposal with every limit of RFC 7208 §4.6.4 (raised only to a problem the current set already
  has, which the plan names);
* per address, with the limits — where the proposal keeps such a problem, each sampled address is evaluated
  again as a receiver that enforces RFC 7208's limits does, for the current set and for the proposal: an
  address the limits break in the proposal must be broken the same way today. (A sender that matches before
  the void-prone terms today must still match before them.)
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field

from spfguard.dns.base import DnsClient
from spfguard.ipset import IPSet, sample_points
from spfguard.policy import RESULTS, Policy
from spfguard.spf.evaluator import UNLIMITED, Limits, check_host_async

MAX_SAMPLES = 4000


@dataclass
class Proof:
    samples: int = 0
    sample_mismatches: list[dict] = field(default_factory=list)  # unintended only
    worse_at_limits: list[dict] = field(default_factory=list)  # addresses the proposal breaks at strict receivers
    intended_samples: int = 0
    unintended: dict[int, IPSet] = field(default_factory=dict)  # symbolic, per family
    changed: dict[int, IPSet] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.sample_mismatches and not self.worse_at_limits and not any(self.unintended.values())

    def to_json(self) -> dict:
        return {
            "samples": self.samples,
            "samples_changed_as_intended": self.intended_samples,
            "unintended_sample_differences": self.sample_mismatches[:20],
            "worse_at_strict_receivers": self.worse_at_limits[:20],
            "unintended_ranges": [str(n) for v in (4, 6) for n in self.unintended.get(v, IPSet(v)).cidrs()][:50],
        }


def changed_addresses(old: Policy, new: Policy, version: int) -> IPSet:
    changed = IPSet(version)
    a, b = old.family(version), new.family(version)
    for result in RESULTS:
        changed = changed | (a.get(result) - b.get(result))
    return changed


def sample_addresses(sets: list[IPSet]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Boundaries of every range, a point inside, and the neighbours just outside."""
    found: set = set()
    for ipset in sets:
        top = (1 << (32 if ipset.version == 4 else 128)) - 1
        cls = ipaddress.IPv4Address if ipset.version == 4 else ipaddress.IPv6Address
        for net in ipset.cidrs():
            found.update(sample_points(net))
            lo, hi = int(net.network_address), int(net.broadcast_address)
            found.update(cls(v) for v in (lo - 1, hi + 1) if 0 <= v <= top)  # the neighbours just outside
    return sorted(found, key=lambda a: (a.version, int(a)))[:MAX_SAMPLES]


async def prove(domain: str, old_dns: DnsClient, new_dns: DnsClient, old: Policy, new: Policy,
                intended: dict[int, IPSet], extra: list[IPSet], limits: dict[int, Limits] | None = None) -> Proof:
    """``limits``: per family, the limits the proposal is evaluated with — RFC 7208's, except where the current
    record already exceeds one (a proposal may keep such a problem exactly as bad, never worse); where they are
    raised, every sample is also held to RFC 7208's own limits, per address."""
    proof = Proof()
    for version in (4, 6):
        proof.changed[version] = changed_addresses(old, new, version)
        proof.unintended[version] = proof.changed[version] - intended.get(version, IPSet(version))
    sets = [old.passes(4), old.passes(6), new.passes(4), new.passes(6), *extra,
            *(intended.get(v, IPSet(v)) for v in (4, 6))]
    addresses = sample_addresses(sets)
    sender = f"postmaster@{domain}"

    limits = limits or {4: Limits(), 6: Limits()}
    strict = Limits()

    async def evaluate(ip, dns: DnsClient, with_limits: Limits) -> str:
        return (await check_host_async(ip, domain, sender, helo=domain, dns=dns, limits=with_limits,
                                       timestamp=0)).result

    async def compare(ip) -> None:
        meant, after = await asyncio.gather(evaluate(ip, old_dns, UNLIMITED), evaluate(ip, new_dns,
                                                                                       limits[ip.version]))
        if meant != after:
            if ip in intended.get(ip.version, IPSet(ip.version)):
                proof.intended_samples += 1
            else:
                proof.sample_mismatches.append({"ip": str(ip), "before": meant, "after": after})
        if limits[ip.version] == strict:
            return
        # RFC 7208 §4.6.4 per address: the kept problem may break an address only where it breaks it today
        after_strict = await evaluate(ip, new_dns, strict)
        if after_strict != after:
            today = await evaluate(ip, old_dns, strict)
            if today != after_strict:
                proof.worse_at_limits.append({"ip": str(ip), "before": today, "after": after_strict})

    for start in range(0, len(addresses), 200):  # bounded concurrency
        await asyncio.gather(*(compare(ip) for ip in addresses[start : start + 200]))
    proof.samples = len(addresses)
    return proof
