"""``senders``: who really sends as a domain, from its DMARC aggregate reports, against today's DNS."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from spfguard.app.dns import DnsOptions, open_dns
from spfguard.errors import UserError
from spfguard.senders.analysis import Senders


@dataclass
class SendersResult:
    senders: Senders
    suggest: tuple[str, str] | None = None  # the --expect list, and the fix command that adds what is missing

    @property
    def exit_code(self) -> int:
        from spfguard.errors import ExitCode

        return ExitCode.FINDINGS if self.senders.with_status("unauthorised", "dkim-only") else ExitCode.OK


def find_senders(domain: str, paths: Iterable[str | os.PathLike], dns: DnsOptions, *,
                 suggest: bool = False) -> SendersResult:
    import asyncio
    import shlex

    from spfguard.senders.reports import read_reports
    from spfguard.senders.run import analyse

    paths = list(paths)
    reading = read_reports(paths, domain)
    if not reading.reports:
        why = "; ".join(f"{path}: {reason}" for path, reason in reading.skipped[:3])
        raise UserError(f"no DMARC aggregate report about {domain} in {', '.join(str(p) for p in paths)}"
                        + (f" ({why}{' …' if len(reading.skipped) > 3 else ''})" if why else ""))
    found = asyncio.run(analyse(domain, reading, open_dns(dns)))
    hint = None
    if suggest:
        expect = ",".join(found.suggested_expect())
        hint = expect, shlex.join(["spfguard", "fix", found.domain, "--expect", expect, *dns.arguments()])
    return SendersResult(found, hint)
