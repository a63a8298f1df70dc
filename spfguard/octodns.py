"""spfguard inside octoDNS: ``spfguard.octodns.SpfValidator``, an octoDNS processor and zone validator.

Configured in octoDNS's YAML, it audits every SPF value of the zone under review with spfguard's engine — exact
lookups and void lookups per address family, syntax, loops, terms after ``all``, every finding code of
``spfguard check``, coverage of the ``expect``ed platforms — where names inside that zone are answered from its
*desired* records (what the pull request would publish: the record and the hosts, includes and chained records it
names there) and other names live (the ``nameservers`` setting, else the system's resolver) or from the zone
files of ``zones``::

    processors:                       # octodns-sync / octodns-dump: the plan fails
      spf:
        class: spfguard.octodns.SpfValidator
        fail_on: error                # or warning
        expect: [microsoft365, google-workspace]
    validators:                       # octodns-validate: validation fails
      spfguard-spf:
        class: spfguard.octodns.SpfValidator

It replaces octoDNS's own ``SpfDnsLookupProcessor``, which counts terms after ``all``, cannot see MX hosts,
void lookups or macros, and raises on ``ptr`` instead of reporting it. A record with ``octodns: lenient: true``
is skipped, as octoDNS's processor does. Findings are reported as ``CODE: message`` with spfguard's codes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import dns.zone
from octodns.processor.base import BaseProcessor, ProcessorException
from octodns.record.validator import ValidationReason
from octodns.zone.validator import ZoneValidator

from spfguard.audit import Report, audit
from spfguard.dns.base import DnsClient
from spfguard.dns.layered import LayeredDns
from spfguard.dns.zonefile import ZoneFileDns
from spfguard.errors import SpfguardError
from spfguard.findings import severity_rank
from spfguard.spf.parser import is_spf_record
from spfguard.textsafe import safe
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.coverage import sender_sets

log = logging.getLogger("SpfValidator")


class SpfValidatorException(ProcessorException):
    """The zone publishes SPF records with findings at or above ``fail_on``."""


def desired_dns(zone, beyond: DnsClient) -> DnsClient:
    """The desired octoDNS zone as DNS (wildcards, CNAMEs and empty non-terminals as a server answers them)."""
    lines = [f"$ORIGIN {zone.name}", f"@ 3600 IN SOA ns.{zone.name} hostmaster.{zone.name} 1 3600 600 86400 300"]
    for record in zone.records:
        try:
            rrset = record.to_rrset()
        except Exception:  # noqa: BLE001 - a type octoDNS renders but dnspython does not need here
            continue
        lines += [f"{rrset.name} {rrset.ttl} IN {rrset._type} {rdata}" for rdata in rrset.rdatas]
    text = "\n".join(lines) + "\n"
    try:
        parsed = dns.zone.from_text(text, origin=zone.name, relativize=False, check_origin=False)
    except Exception:  # noqa: BLE001 - fall back to the records dnspython accepts one by one
        good = [line for line in lines if _parses(line, zone.name)]
        parsed = dns.zone.from_text("\n".join(good) + "\n", origin=zone.name, relativize=False, check_origin=False)
    return LayeredDns(ZoneFileDns([parsed]), beyond)


def _parses(line: str, origin: str) -> bool:
    try:
        dns.zone.from_text(f"$ORIGIN {origin}\n{line}\n", origin=origin, relativize=False, check_origin=False)
        return True
    except Exception:  # noqa: BLE001
        return False


class SpfValidator(BaseProcessor, ZoneValidator):
    def __init__(self, name: str, fail_on: str = "error", expect: list[str] | tuple[str, ...] = (),
                 nameservers: list[str] | tuple[str, ...] = (), zones: list[str] | tuple[str, ...] = (),
                 warn_lookups: int = 9, timeout: float = 2.0, lenient: bool = False, sets: Any = None):
        BaseProcessor.__init__(self, name, lenient=lenient)
        ZoneValidator.__init__(self, name, sets)
        if fail_on not in ("error", "warning"):
            raise ValueError(f"{name}: fail_on must be error or warning, not {fail_on!r}")
        catalogue = load_catalogue()
        for platform in expect:
            if platform not in catalogue.platforms:
                raise ValueError(f"{name}: unknown platform {platform!r} in expect (spfguard ranges list)")
        self.fail_on, self.expect, self.warn_lookups = fail_on, list(expect), int(warn_lookups)
        self.nameservers, self.zone_files, self.timeout = list(nameservers), list(zones), float(timeout)

    def _beyond(self) -> DnsClient:
        from pathlib import Path

        from spfguard.app.dns import DnsOptions, open_dns

        # no nameservers and no zone files: the system's resolver (/etc/resolv.conf)
        return open_dns(DnsOptions(zones=tuple(Path(z) for z in self.zone_files),
                                   nameservers=tuple(self.nameservers), timeout=self.timeout))

    def audit_zone(self, zone) -> list[tuple[Any, Report]]:
        """(record, report) for every SPF value of the zone (records marked lenient are skipped)."""
        names = []
        for record in zone.records:
            if record._type != "TXT" or record.lenient:
                continue
            if any(is_spf_record(str(v).replace("\\;", ";")) for v in record.values):
                names.append(record)
        if not names:
            return []
        dns_view = desired_dns(zone, self._beyond())

        async def run() -> list[tuple[Any, Report]]:
            senders = await sender_sets(self.expect, dns_view) if self.expect else []
            reports = await asyncio.gather(*(audit(r.fqdn.rstrip("."), dns_view, senders=senders,
                                                   warn_lookups=self.warn_lookups, dmarc=False) for r in names))
            return list(zip(names, reports, strict=True))

        return asyncio.run(run())

    def problems(self, zone) -> list[tuple[Any, str]]:
        """(record, "CODE: message") for each finding at or above ``fail_on``."""
        threshold = severity_rank(self.fail_on)
        out = []
        try:
            audited = self.audit_zone(zone)
        except SpfguardError as err:
            return [(None, f"spfguard: {err}")]
        for record, report in audited:
            for finding in report.findings:
                if severity_rank(finding.severity) >= threshold:
                    out.append((record, f"{finding.code}: {safe(finding.message)}"))
        return out

    # octodns-validate (a zone validator)
    def validate(self, zone) -> list[ValidationReason]:
        return [ValidationReason(f"{record.decoded_fqdn if record else zone.decoded_name} {text}",
                                 [record] if record else [], validator_id=self.id)
                for record, text in self.problems(zone)]

    # octodns-sync / octodns-dump (a processor)
    def process_source_zone(self, desired, sources, lenient=False):
        found = self.problems(desired)
        if found:
            message = f"{desired.decoded_name} SPF: " + "; ".join(
                f"{record.decoded_fqdn if record else desired.decoded_name} {text}" for record, text in found)
            if lenient or self.lenient:
                log.warning(message)
            else:
                raise SpfValidatorException(message)
        return desired

