"""``senders``: who really sends as a domain, from its DMARC aggregate reports, against today's DNS."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from spfguard.app.dns import DnsOptions, open_dns
from spfguard.config import Config
from spfguard.errors import UserError
from spfguard.senders.analysis import Senders
from spfguard.senders.reports import Reading


@dataclass
class SendersResult:
    senders: Senders
    suggest: tuple[str, str] | None = None  # the --expect list, and the fix command that adds what is missing

    @property
    def exit_code(self) -> int:
        from spfguard.errors import ExitCode

        return ExitCode.FINDINGS if self.senders.with_status("unauthorised", "dkim-only") else ExitCode.OK


def stored_reports(config: Config, state: str | None, domain: str, since: float) -> Reading:
    """The reports about ``domain`` the monitor stored from the ``[dmarc]`` mailbox, over the last ``since``
    seconds (the store read-only: nothing is created or migrated)."""
    import time

    from spfguard.app.monitor import iso_time, location_for, open_existing

    location = location_for(config, state)
    store = open_existing(location)
    try:
        reports = store.reports(domain, iso_time(time.time() - since))
    finally:
        store.close()
    if not reports:
        raise UserError(f"no stored DMARC report about {domain} in the last {round(since / 86400)} day(s) in "
                        f"{location} (the monitor stores them from the [dmarc] mailbox)")
    return Reading(reports=reports)


def find_senders(domain: str, paths: Iterable[str | os.PathLike], dns: DnsOptions, *,
                 suggest: bool = False, stored: Reading | None = None) -> SendersResult:
    import asyncio
    import shlex

    from spfguard.senders.reports import read_reports
    from spfguard.senders.run import analyse

    paths = list(paths)
    reading = stored if stored is not None else read_reports(paths, domain)
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
