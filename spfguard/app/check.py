"""``check`` and ``eval``: audit domains (streamed, in input order) and evaluate check_host() for one address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from spfguard.audit import Report, audit_stream
from spfguard.dns.base import DnsClient
from spfguard.errors import ExitCode
from spfguard.findings import severity_rank
from spfguard.spf.evaluator import SpfResult, check_host_async


@dataclass
class CheckRequest:
    names: Sequence[str]
    ips: Sequence[str] = ()
    expect: Sequence[str] = ()
    warn_lookups: int = 9
    parked: set[str] = field(default_factory=set)  # the names checked as parked domains


async def check_domains(request: CheckRequest, dns: DnsClient) -> AsyncIterator[tuple[int, Report]]:
    """Each domain's report, in input order, as soon as it and those before it are done (memory stays bounded)."""
    from spfguard.vendors.coverage import sender_sets

    senders = await sender_sets(list(request.expect), dns)  # once for all domains
    async for index, report in audit_stream(list(request.names), dns, ips=request.ips, senders=senders,
                                            warn_lookups=request.warn_lookups,
                                            per_domain=lambda name: {"parked": name in request.parked,
                                                                     "alone": len(request.names) == 1}):
        yield index, report


class Outcome:
    """The exit code of a check, accumulated while reports stream past (they are not kept)."""

    def __init__(self, fail_on: str) -> None:
        self.threshold = severity_rank(fail_on)
        self.findings = False
        self.incomplete = False

    def add(self, report: Report) -> None:
        self.findings |= any(severity_rank(f.severity) >= self.threshold and f.code != "temporary-failure"
                             for f in report.findings)
        self.incomplete |= report.incomplete

    @property
    def code(self) -> int:
        return ExitCode.FINDINGS if self.findings else ExitCode.INCOMPLETE if self.incomplete else ExitCode.OK


@dataclass
class Evaluation:
    address: str
    domain: str
    result: SpfResult

    @property
    def exit_code(self) -> int:
        if self.result.result == "temperror":
            return ExitCode.INCOMPLETE
        return ExitCode.OK if self.result.result == "pass" else ExitCode.FINDINGS


async def evaluate(ip: str, domain: str, dns: DnsClient, *, sender: str | None = None,
                   helo: str | None = None) -> Evaluation:
    """check_host() (RFC 7208 §4) for ``ip`` as given — %{i} keeps the letter case of an IPv6 address (the RFC
    7208 suite's v-macro-ip6)."""
    from spfguard.hostport import parse_ip

    address = str(parse_ip(ip, "IP"))
    result = await check_host_async(ip.strip(), domain, sender or f"postmaster@{domain}", helo=helo or domain,
                                    dns=dns)
    return Evaluation(address, domain, result)
