"""Findings: stable codes (like a linter's rule ids), a severity, a message and where they arise.

The codes are part of the JSON output and documented in the README; never rename one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

SEVERITIES = ("info", "warning", "error")

CODES = {
    "too-many-lookups": "more than 10 DNS-querying terms: receivers return permerror (RFC 7208 §4.6.4)",
    "near-lookup-limit": "9 or 10 DNS-querying terms: one more include breaks the record",
    "too-many-void-lookups": "more than 2 lookups with no answer: error for IPv4 senders, warning when only IPv6 "
                             "senders at strict receivers are hit (§4.6.4)",
    "near-void-limit": "2 of 2 void lookups (IPv4 or IPv6 senders): one more host without an address breaks it",
    "terms-after-all": "mechanisms after 'all' are never evaluated (§5.1)",
    "multiple-records": "more than one v=spf1 record at a name: permerror (§4.5)",
    "no-record": "the domain publishes no SPF record",
    "include-no-record": "an include or redirect target has no usable SPF record: permerror (§5.2, §6.1)",
    "loop": "an include or redirect leads back to a record already being evaluated",
    "syntax-error": "the record does not follow the RFC 7208 grammar: permerror (§4.6)",
    "ptr-used": "the ptr mechanism is slow, unreliable and deprecated (§5.5)",
    "permissive-all": "+all, ?all or a very wide range authorises (nearly) anyone",
    "no-all": "no all and no redirect: unmatched senders get neutral",
    "redirect-ignored": "redirect= beside all is never used (§6.1)",
    "duplicate-term": "the same term twice in one record",
    "redundant-range": "an ip4/ip6 range already authorised elsewhere in the tree with the same qualifier",
    "record-too-long": "record over 450 bytes: the DNS answer may not fit a 512-byte UDP reply",
    "mx-too-many-hosts": "an mx term whose domain has more than 10 MX records: permerror (§4.6.4)",
    "temporary-failure": "a lookup could not be completed: the result is 'could not check'",
    "macro-term": "a term with macros: validated and counted, resolved only per message",
    "missing-vendor": "an expected sending platform is not authorised at all",
    "partial-vendor": "an expected sending platform is only partly authorised (the missing ranges are listed)",
    "stale-vendor-range": "an ip4/ip6 range a vendor no longer publishes (dated table of retired ranges)",
    "unrecognized-range": "an ip4/ip6 range no expected platform publishes",
    "connector-loop": "a connector smart host is Exchange Online itself",
    "connector-bypasses-mx": "the connector delivers to a platform that is not the domain's MX",
    "unknown-smart-host": "a connector smart host belongs to no platform of the catalogue",
    "dmarc-missing": "no DMARC record for the domain or its organisational domain",
    "dmarc-policy-none": "DMARC p=none: failing mail is not quarantined or rejected",
    "dmarc-subdomain-policy-none": "DMARC sp=none under a stricter p=: mail from any invented subdomain is delivered",
    "parked-not-locked": "a parked domain (sends and receives no mail) without the lockdown: v=spf1 -all, DMARC "
                         "p=reject, null MX (RFC 7505)",
}


# what to do about each finding, in plain words (the HTML report shows it beside the message)
HINTS = {
    "too-many-lookups": "Run `spfguard fix DOMAIN`: it flattens the costliest includes into ranges, proven equivalent.",
    "near-lookup-limit": "Remove senders you no longer use, or flatten an include before a vendor adds one.",
    "too-many-void-lookups": "Give the a/mx hosts addresses (AAAA too), put ip4/ip6 terms first, or `fix --pin TERM`.",
    "near-void-limit": "Give the hosts without addresses their A/AAAA records before another one goes.",
    "terms-after-all": "Move the terms before 'all' (they were meant to authorise someone) or delete them.",
    "multiple-records": "Keep one v=spf1 record: `spfguard fix` proposes the merge.",
    "no-record": "Publish one: 'v=spf1 -all' for a domain that sends no mail.",
    "include-no-record": "Remove the include, or ask its owner to publish a record there.",
    "loop": "Remove the include that leads back to a record already evaluated.",
    "syntax-error": "Correct the record at the position given (or ask the include's owner to).",
    "ptr-used": "List the senders' addresses (ip4/ip6) instead of ptr.",
    "permissive-all": "End the record with ~all or -all (`spfguard fix --all softfail`); narrow very wide ranges.",
    "no-all": "End the record with ~all or -all.",
    "redirect-ignored": "Remove the redirect, or the all if the redirect is what you meant.",
    "duplicate-term": "Remove the repeated term (`spfguard fix` does).",
    "redundant-range": "Remove the range: another term already authorises it (`spfguard fix` does).",
    "record-too-long": "Shorten the record; `spfguard fix` moves ranges into chained records when it must.",
    "mx-too-many-hosts": "List the mail servers' addresses instead of mx (`fix --pin`).",
    "temporary-failure": "Check again later; if it persists, the server named is not answering.",
    "macro-term": "Nothing to do: it is evaluated per message (`spfguard eval --trace` shows its expansion).",
    "missing-vendor": "Add the platform's include (`spfguard fix --expect PLATFORM` does).",
    "partial-vendor": "Replace copied ranges by the platform's own include.",
    "stale-vendor-range": "Remove the range: the vendor no longer sends from it (`spfguard fix` does).",
    "unrecognized-range": "Check who sends from it; remove it if nobody does.",
    "connector-loop": "Point the connector at the receiving platform's hosts, not at Exchange Online.",
    "connector-bypasses-mx": "Deliver to the hosts in the domain's MX, or allow-list Exchange Online at the other.",
    "unknown-smart-host": "Check the host name; nothing is wrong if it is your own relay.",
    "dmarc-missing": "Publish _dmarc with p=none and a rua= address to start collecting reports.",
    "dmarc-policy-none": "Move to p=quarantine, then p=reject, once the reports show only your own senders.",
    "dmarc-subdomain-policy-none": "Remove sp=none (subdomains then get p=) or set sp=quarantine / sp=reject.",
    "parked-not-locked": "Publish 'v=spf1 -all', '_dmarc TXT \"v=DMARC1; p=reject\"' and 'MX 0 .' (a null MX).",
}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    where: str  # the path in the tree, e.g. "aacn.org > include:docebosaas.com"
    term: str | None = None
    count: int = 1  # the same finding met this many times (in a tree that reaches one record by many paths)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r} (add it to CODES and HINTS)")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and (k != "count" or v > 1)}

    @property
    def explanation(self) -> str:
        return CODES[self.code]

    @property
    def hint(self) -> str:
        return HINTS.get(self.code, "")


def deduplicated(findings: list[Finding]) -> list[Finding]:
    """Identical findings (code, severity, message) once, with how many times they were met, where first met."""
    seen: dict[tuple[str, str, str], int] = {}
    out: list[Finding] = []
    for finding in findings:
        key = (finding.code, finding.severity, finding.message)
        if key in seen:
            first = out[seen[key]]
            out[seen[key]] = replace(first, count=first.count + finding.count)
        else:
            seen[key] = len(out)
            out.append(finding)
    return out


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)
