"""Options and helpers shared by the commands: the DNS source, domain lists, output formats from the renderer
registry, rendering."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from spfguard.app.dns import DnsOptions
from spfguard.domains import DomainEntry, load_domain_list, parse_domain
from spfguard.errors import UserError
from spfguard.hostport import parse_ip
from spfguard.report import Options, formats, renderer

ZoneOption = Annotated[
    list[Path] | None,
    typer.Option("--zone", metavar="PATH", help="Answer from RFC 1035 zone files (a file, or every *.zone in a "
                 "directory; repeatable) instead of live DNS: offline."),
]
NameserverOption = Annotated[
    list[str] | None,
    typer.Option("--nameserver", "-n", metavar="HOST[:PORT]", help="Nameserver to ask: an address, [IPv6]:PORT or "
                 "a host name (resolved once at start); repeatable. Default: the system's resolvers."),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", metavar="SECONDS", min=0.05, max=60,
                                              help="Seconds to wait for one DNS answer (0.05 to 60).")]
RetriesOption = Annotated[int, typer.Option("--retries", metavar="N", min=0, max=10,
                                            help="Further tries after a DNS timeout (0 to 10).")]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", metavar="FILE", envvar="SPFGUARD_CONFIG",
                                                   help="spfguard.toml (see examples/spfguard.toml).")]
StateOption = Annotated[str | None, typer.Option("--state", metavar="FILE|URL", help="The state store: a SQLite file "
                                                 "or postgresql://… (default: [monitor] state, else "
                                                 "$XDG_STATE_HOME/spfguard/monitor.sqlite).")]
ExpectOption = Annotated[list[str] | None, typer.Option(
    "--expect", "-e", metavar="PLATFORM[,PLATFORM…]",
    help="Platforms the domain sends from (repeatable or comma-separated; `spfguard ranges list`).")]


def choice_option(*names: str, choices: Sequence[str], help_text: str, metavar: str = "FORMAT") -> Any:
    """An option whose value must be one of ``choices`` (checked when parsed, offered to shell completion)."""
    def check(value: str | None) -> str | None:
        if value is not None and value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(repr(c) for c in choices)}")
        return value

    return typer.Option(*names, metavar=metavar, help=help_text, callback=check,
                        autocompletion=lambda: list(choices))


def format_option(command: str, help_text: str | None = None) -> Any:
    """``--format`` whose choices are the formats registered for ``command`` (:data:`spfguard.report.OUTPUTS`):
    ``fmt: Annotated[str, format_option("check")] = "table"``."""
    names = formats(command)
    return choice_option("--format", "-f", choices=names, help_text=help_text or (
        f"{', '.join(names[:-1])} or {names[-1]}." if len(names) > 1 else f"{names[0]}."))


def render(command: str, fmt: str, result: Any, **options: Any) -> str:
    """``result`` rendered by the renderer registered for ``command`` and ``fmt``."""
    known = {k: options.pop(k) for k in list(options) if k in Options.__dataclass_fields__}
    return renderer(command, fmt, Options(**known, extra=options)).render(result)


def dns_options(zone: list[Path] | None, nameservers: list[str] | None, timeout: float = 2.0, retries: int = 2,
                **kwargs: Any) -> DnsOptions:
    return DnsOptions(tuple(zone or ()), tuple(nameservers or ()), timeout, retries, **kwargs)


def split_values(values: list[str] | None) -> list[str]:
    """A repeatable option that also takes comma lists: ``--ip A --ip B`` or ``--ip A,B``."""
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def parse_ips(values: list[str] | None, option: str = "--ip") -> list[str]:
    return [str(parse_ip(v, option)) for v in split_values(values)]


def collect_domains(args: list[str] | None, domains_from: Path | None, *, platforms=()) -> list[DomainEntry]:
    """Domains from the command line (``-`` reads standard input) and from ``--domains-from FILE``. An argument
    that is an address or a platform name is an option value that lost its option: say so."""
    entries: list[DomainEntry] = []
    for arg in args or ():
        if arg == "-":
            entries += load_domain_list("-")
            continue
        try:
            parse_ip(arg, "")
        except UserError:
            pass
        else:
            raise UserError(f"{arg} is an address, not a domain: give each address with its own --ip, or a comma "
                            "list (--ip A,B)")
        if arg in platforms:
            raise UserError(f"{arg} is a platform, not a domain: --expect takes a comma list (--expect a,b) or "
                            "one --expect per platform")
        entries.append(DomainEntry(parse_domain(arg)))
    if domains_from is not None:
        entries += load_domain_list(domains_from)
    if not entries:
        raise UserError("no domains: give DOMAIN..., '-' to read them from standard input, or --domains-from FILE")
    return entries


def before_a_long_run() -> None:
    """Before a command's audits: what start-up allocated (modules, classes, configuration) is moved out of the
    cycle collector's way, and its youngest generation is collected every 10,000 allocations rather than 700. A
    fleet run allocates millions of small objects that reference counting frees; with CPython's defaults about a
    tenth of `check`'s CPU went to collections that found nothing (issue #25). Called once per process."""
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
