"""``spfguard check``: render audit reports as a table, a tree or JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from tabulate import tabulate

from spfguard.audit import LOOKUP_LIMIT, VOID_LIMIT, Report, audit
from spfguard.cli.common import (
    Exit,
    NameserverOption,
    RetriesOption,
    TimeoutOption,
    UserError,
    ZoneOption,
    make_dns,
    stderr_is_terminal,
)
from spfguard.config import get_int, get_list, load_config, section
from spfguard.dmarc import preload as preload_dmarc
from spfguard.findings import severity_rank
from spfguard.report_json import JSON_VERSION, report_to_json
from spfguard.spf.terms import Mechanism
from spfguard.tree import Node
from spfguard.vendors.catalogue import load_catalogue
from spfguard.vendors.coverage import sender_sets

PROGRESS_MIN_DOMAINS = 5
WINDOW = 256  # domains audited at once: enough to keep hundreds of queries in flight, bounded memory


class Format(StrEnum):
    table = "table"
    json = "json"
    tree = "tree"


class FailOn(StrEnum):
    error = "error"
    warning = "warning"


def check(
    domains: Annotated[list[str], typer.Argument(help="Domains to check.", show_default=False)],
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    ip: Annotated[list[str] | None, typer.Option("--ip", help="Also evaluate check_host() for this sender "
                                                  "address (repeatable).")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when a finding of this severity or "
                                            "worse is found.")] = FailOn.error,
    warn_lookups: Annotated[int | None, typer.Option("--warn-lookups", help="Warn from this many lookups on "
                                                     "(default 9).", min=1, max=10)] = None,
    expect: Annotated[list[str] | None, typer.Option("--expect", "-e", help="Platforms this domain sends from, "
                                                     "comma-separated (see `spfguard ranges list`).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="spfguard.toml: [check] expect, "
                                                "warn_lookups, nameservers.", envvar="SPFGUARD_CONFIG")] = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Audit the SPF tree of each domain: lookups, void lookups, findings, DMARC and MX."""
    ips = _valid_ips(ip or [])
    settings = section(load_config(config), "check", str(config))
    platforms = set(load_catalogue().platforms)
    expected = parse_expect(expect) if expect else get_list(settings, "expect", "check", platforms)
    unknown = [e for e in expected if e not in platforms]
    if unknown:
        raise UserError(f"--expect: unknown platform {unknown[0]!r} (known: {', '.join(sorted(platforms))})")
    warn_lookups = warn_lookups or get_int(settings, "warn_lookups", "check", 9, 1, 10)
    dns = make_dns(zone, nameserver or get_list(settings, "nameservers", "check"), timeout, retries)
    preload_dmarc()
    domains = [d.strip() for d in domains]
    summaries: list[list] = []
    outcome = _Outcome()

    def emit(index: int, report: Report) -> None:
        outcome.add(report, fail_on.value)
        if fmt is Format.json:
            text = json.dumps(report_to_json(report), indent=2)
            typer.echo(("" if index == 0 else ",\n") + text, nl=False)
        elif fmt is Format.tree:
            typer.echo(("" if index == 0 else "\n") + render_tree(report))
        else:
            typer.echo(("" if index == 0 else "\n") + render_one(report, detail=len(domains) == 1))
            summaries.append([report.domain, f"{report.lookups}/{LOOKUP_LIMIT}", _voids(report), report.verdict,
                              _counts(report)])

    if fmt is Format.json:
        typer.echo(f'{{"version": {JSON_VERSION}, "results": [', nl=False)
    asyncio.run(_audit_all(domains, dns, ips, warn_lookups, expected, emit))
    if fmt is Format.json:
        typer.echo("]}")
    elif fmt is Format.table and len(domains) > 1:
        typer.echo("\n" + tabulate(summaries, headers=["domain", "lookups", "void lookups", "verdict", "findings"]))
    raise typer.Exit(outcome.code)


class _Outcome:
    """The exit code, accumulated while reports stream past (they are not kept)."""

    def __init__(self) -> None:
        self.findings = False
        self.incomplete = False

    def add(self, report: Report, fail_on: str) -> None:
        threshold = severity_rank(fail_on)
        self.findings |= any(severity_rank(f.severity) >= threshold and f.code != "temporary-failure"
                             for f in report.findings)
        self.incomplete |= report.incomplete

    @property
    def code(self) -> int:
        return Exit.FINDINGS if self.findings else Exit.INCOMPLETE if self.incomplete else Exit.OK


def _valid_ips(ips: list[str]) -> list[str]:
    import ipaddress

    for value in ips:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise UserError(f"--ip {value!r} is not an IPv4 or IPv6 address") from None
    return ips


def parse_expect(values: list[str]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


async def _audit_all(domains: list[str], dns, ips: list[str], warn_lookups: int, expected: list[str],
                     emit) -> None:
    """Audit up to WINDOW domains at once (sharing the DNS client and its cache) and hand each report to
    ``emit`` in input order as soon as it and those before it are done; reports are not kept."""
    progress = stderr_is_terminal() and len(domains) > PROGRESS_MIN_DOMAINS
    window = asyncio.Semaphore(WINDOW)
    done: dict[int, Report] = {}
    next_out = 0
    senders = await sender_sets(expected, dns)  # once for all domains

    async def one(index: int, domain: str) -> None:
        nonlocal next_out
        async with window:
            done[index] = await audit(domain, dns, ips=ips, warn_lookups=warn_lookups, senders=senders)
        while next_out in done:
            emit(next_out, done.pop(next_out))
            next_out += 1
            if progress:
                sys.stderr.write(f"\rchecked {next_out}/{len(domains)} domains")
                sys.stderr.flush()

    await asyncio.gather(*(one(i, d) for i, d in enumerate(domains)))
    if progress:
        sys.stderr.write("\n")


def _voids(report: Report) -> str:
    return f"{report.voids4}/{VOID_LIMIT} (IPv6 {report.voids6}/{VOID_LIMIT})"


def _counts(report: Report) -> str:
    counts = {s: sum(f.severity == s for f in report.findings) for s in ("error", "warning", "info")}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"


def render_one(report: Report, *, detail: bool) -> str:
    lines = [f"{report.domain}: {report.record or '(no SPF record)'}",
             f"  lookups {report.lookups}/{LOOKUP_LIMIT} · void lookups {_voids(report)} · verdict: "
             f"{report.verdict}"]
    if report.mx is not None:
        lines.append(f"  MX: {', '.join(report.mx) or '(none)'}")
    if report.dmarc is not None:
        d = report.dmarc
        if d.present:
            lines.append(f"  DMARC: p={d.policy} sp={d.subdomain_policy} pct={d.pct} "
                         f"rua={'yes' if d.rua else 'no'} (at _dmarc.{d.record_domain})")
        else:
            lines.append(f"  DMARC: {'lookup failed: ' + d.error if d.temporary else 'none'}")
    if detail and report.tree.parsed is not None:
        lines.append("")
        lines.append(tabulate(_term_rows(report.tree), headers=["term", "result", "lookups", "cumulative"]))
    for name, cov in report.coverage.items():
        missing = f" — missing {', '.join(cov.missing[:4])}{' …' if len(cov.missing) > 4 else ''}" \
            if cov.missing else ""
        via = f" via {', '.join(cov.via)}" if cov.via else ""
        lines.append(f"  coverage {name}: {cov.status}{via}{missing}")
    for ip, res in report.evaluations:
        path = " → ".join(s.term for s in res.path) or res.reason
        lines.append(f"  check_host({ip}) = {res.result}  via {path}")
    if report.findings:
        lines.append("")
        rows = [[f.severity, f.code, f.where, f.message] for f in
                sorted(report.findings, key=lambda f: -severity_rank(f.severity))]
        lines.append(tabulate(rows, headers=["severity", "code", "where", "message"],
                              maxcolwidths=[None, None, 40, 70]))
    else:
        lines.append("  no findings")
    return "\n".join(lines)


def _term_rows(node: Node) -> list[list]:
    by_term = {info.term: info for info in node.terms}
    rows = []
    count = 0
    for term in node.parsed.terms:
        text = term.render()
        result = term.result if isinstance(term, Mechanism) else "modifier"
        info = by_term.get(text)
        if info is None:  # not a DNS-querying term (or a redirect beside all, never reached)
            rows.append([text, result, "", ""])
            continue
        subtree = info.lookups + (info.child.total_lookups if info.child else 0)
        count = info.child.cumulative if info.child else count + info.lookups
        rows.append([text, result, subtree, count])
    return rows


def render_tree(report: Report) -> str:
    lines = [f"{report.domain}  [{report.lookups}/{LOOKUP_LIMIT} lookups · void lookups {_voids(report)} · "
             f"{report.verdict}]"]
    _tree_lines(report.tree, "", lines)
    for name, cov in report.coverage.items():
        lines.append(f"coverage {name}: {cov.status}" + (f" (missing {len(cov.missing)} range(s))" if cov.missing
                                                           else ""))
    return "\n".join(lines)


def _tree_lines(node: Node, prefix: str, lines: list[str]) -> None:
    items: list[tuple[str, Node | None]] = []
    if node.status != "ok":
        items.append((f"! {node.status}: {node.error}", None))
    if node.parsed is not None:
        ranges = [m for m in node.parsed.mechanisms if m.kind in ("ip4", "ip6")]
        if ranges:
            v4 = sum(m.kind == "ip4" for m in ranges)
            items.append((f"{v4} ip4, {len(ranges) - v4} ip6 range(s)", None))
        for info in node.terms:
            if info.child is not None:
                child = info.child
                label = (f"{info.term}  (+{info.lookups}, subtree {info.lookups + child.total_lookups}, "
                         f"running total {child.cumulative})")
                items.append((label, child))
            else:
                extra = ""
                if info.macro:
                    extra = " macro: resolved per message"
                elif info.mx_hosts:
                    extra = f" {info.mx_hosts} MX host(s)"
                voids = f", void v4 {info.voids4} / v6 {info.voids6}" if info.voids4 or info.voids6 else ""
                items.append((f"{info.term}  (+{info.lookups}{voids}){extra}", None))
        if node.parsed.all is not None:
            items.append((node.parsed.all.render(), None))
    for i, (label, child) in enumerate(items):
        last = i == len(items) - 1
        lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
        if child is not None:
            _tree_lines(child, prefix + ("    " if last else "│   "), lines)
