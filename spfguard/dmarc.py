"""DMARC summary for ``check`` (RFC 7489): the record is fetched through our DNS client, parsed by checkdmarc.

checkdmarc's parser may look up the MX of report destinations; it is handed a resolver that answers
through the same DNS client (zone files, the run's nameservers and cache), so ``--zone`` runs stay offline.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from spfguard.dns.base import Answer, DnsClient, Status
from spfguard.spf.txt import decode, join_strings


@dataclass
class DmarcSummary:
    present: bool
    record: str | None = None
    record_domain: str | None = None  # where it was found (the domain or its organisational domain)
    policy: str | None = None
    subdomain_policy: str | None = None
    pct: int | None = None
    rua: bool = False
    error: str | None = None
    temporary: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"present": self.present, "record": self.record, "found_at": self.record_domain,
                "policy": self.policy, "subdomain_policy": self.subdomain_policy, "pct": self.pct,
                "rua": self.rua, "error": self.error, "warnings": self.warnings}


async def _dmarc_txt(name: str, dns: DnsClient) -> tuple[Answer, list[str]]:
    answer = await dns.query(f"_dmarc.{name}", "TXT")
    texts = [decode(join_strings(rr)) for rr in answer.records]
    return answer, [t for t in texts if t.strip().lower().startswith("v=dmarc1")]


@dataclass(frozen=True)
class FoundDmarc:
    """What DNS said about a domain's DMARC record (RFC 7489 §6.6.3), before checkdmarc parses it."""
    answer: Answer
    records: list[str]
    found_at: str


async def fetch_dmarc(domain: str, dns: DnsClient, *, import_parser: bool = False) -> FoundDmarc:
    """DNS only (cheap on the CPU): run beside the SPF walk. ``import_parser``: once a record is found, start
    importing checkdmarc in a thread (:func:`start_parser_import`)."""
    answer, records = await _dmarc_txt(domain, dns)
    found_at = domain
    if answer.status is not Status.TEMPFAIL and not records:
        base = organisational_domain(domain)
        if base != domain:  # RFC 7489 §6.6.3: fall back to the organisational domain
            answer, records = await _dmarc_txt(base, dns)
            found_at = base
    if import_parser and len(records) == 1:
        start_parser_import()
    return FoundDmarc(answer, records, found_at)


def start_parser_import() -> None:
    """Import checkdmarc's parser in a thread, for a run that audits one domain: its walk waits on the network
    with the CPU idle between answers, and the ~0.25 s import fits in those waits. Never in a fleet run, whose
    walks keep the CPU busy: there it would only compete with them (issue #25). The parse that follows imports
    the same module, and Python's import lock makes it wait for this thread if it has not finished; the thread is
    not a daemon, so the interpreter never exits in the middle of an import."""
    global _importing
    if _importing is None and "checkdmarc.dmarc" not in sys.modules:
        _importing = threading.Thread(target=importlib.import_module, args=("checkdmarc.dmarc",),
                                      name="import-checkdmarc")
        _importing.start()


_importing: threading.Thread | None = None


async def parse_dmarc(found: FoundDmarc, dns: DnsClient) -> DmarcSummary:
    """checkdmarc's parser (and its import, ~0.3 s of CPU the first time): called after the SPF walk, so that on a
    CPU-bound machine it never competes with it."""
    if found.answer.status is Status.TEMPFAIL:
        return DmarcSummary(False, error=found.answer.error or "timeout", temporary=True)
    if not found.records:
        return DmarcSummary(False)
    if len(found.records) > 1:
        return DmarcSummary(False, error=f"{len(found.records)} DMARC records at _dmarc.{found.found_at} "
                            "(must be one)", record_domain=found.found_at)
    from spfguard.dns.bridge import BridgeResolver, NeedsDns, NoDnsResolver

    try:  # most records name no report destination to verify: parsed here, without a thread
        return _parse(found.records[0], found.found_at, NoDnsResolver())
    except NeedsDns:
        pass
    bridge = BridgeResolver(dns, asyncio.get_running_loop())
    return await asyncio.to_thread(_parse, found.records[0], found.found_at, bridge)


@functools.cache
def _public_suffixes():
    import publicsuffixlist  # checkdmarc's own list, without importing checkdmarc (~0.04 s, not ~0.3 s)

    return publicsuffixlist.PublicSuffixList()


def organisational_domain(domain: str) -> str:
    try:
        return _public_suffixes().privatesuffix(domain.lower()) or domain
    except Exception:  # noqa: BLE001 - the public-suffix list is an aid, not a requirement
        return ".".join(domain.split(".")[-2:])


def _parse(record: str, domain: str, resolver: Any) -> DmarcSummary:
    from checkdmarc.dmarc import DMARCError, parse_dmarc_record  # heavy: imported only when needed

    try:
        parsed = parse_dmarc_record(record, domain, resolver=resolver, timeout=2.0)
    except DMARCError as err:
        return DmarcSummary(True, record=record, record_domain=domain, error=str(err))
    tags = parsed["tags"]
    pct = _pct(record)
    return DmarcSummary(
        True, record=record, record_domain=domain, policy=tags["p"]["value"],
        subdomain_policy=tags.get("sp", {}).get("value"), pct=pct, rua=bool(tags.get("rua", {}).get("value")),
        warnings=list(parsed.get("warnings", [])),
    )


def _pct(record: str) -> int:
    """RFC 7489 §6.3 pct (DMARCbis dropped it; checkdmarc no longer reports it): default 100."""
    for part in record.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "pct" and value.strip().isdigit():
            return int(value.strip())
    return 100
