"""Domain names as users give them — on the command line, in a list file, on standard input, in a fleet CSV —
checked once, with a one-line error that says what is wrong ("'https://x.org' is not a domain name: give the
name alone, x.org")."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from spfguard.errors import UserError
from spfguard.textfile import read_text

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")  # RFC 1035 §2.3.1, with "_" (RFC 8552)
CSV_COLUMNS = ("domain", "tenant", "expect", "provider", "tags", "parked")


def parse_domain(text: str, where: str = "") -> str:
    """The domain in lower case without a trailing dot; internationalised names become their A-labels."""
    raw = text
    text = text.strip().rstrip(".").lower()
    prefix = f"{where}: " if where else ""
    problem = _problem(text)
    if problem is None and not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            problem = "an internationalised name that IDNA cannot encode"
        else:
            problem = _problem(text)
    if problem is not None:
        raise UserError(f"{prefix}{raw!r} is not a domain name: {problem}")
    return text


def _problem(text: str) -> str | None:
    if not text:
        return "it is empty"
    if "://" in text:
        host = text.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
        return f"give the name alone, {host}" if host else "a URL, not a name"
    if "@" in text:
        return f"an address; its domain is {text.rsplit('@', 1)[1]}"
    if not text.isascii():
        return None  # checked again after IDNA encoding
    if len(text) > 253:
        return f"{len(text)} characters (at most 253)"
    labels = text.split(".")
    if "" in labels:
        return "an empty label (two dots in a row, or a leading dot)"
    for label in labels:
        if len(label) > 63:
            return f"the label {label[:20]}… has {len(label)} characters (at most 63)"
        if not _LABEL.match(label):
            bad = next((c for c in label if not (c.isalnum() or c in "-_")), None)
            return f"the character {bad!r} is not allowed" if bad else f"the label {label!r} starts or ends with '-'"
    if len(labels) < 2:
        return "a single label; give the full domain (e.g. example.com)"
    return None


@dataclass(slots=True)  # a fleet list holds 100,000 of them
class DomainEntry:
    """One domain of a list, with the optional columns of a fleet CSV."""

    name: str
    tenant: str | None = None
    expect: list[str] = field(default_factory=list)
    provider: str | None = None
    tags: list[str] = field(default_factory=list)
    parked: bool = False


def read_domain_list(text: str, source: str) -> list[DomainEntry]:
    """One domain per line (``#`` comments and blank lines ignored), or a CSV whose header has a ``domain``
    column (and optionally tenant, expect, provider, tags, parked; lists inside a cell are separated by ';' or
    spaces). Errors name the source and the line."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    if "domain" in [c.strip().strip('"').strip().lower() for c in first.split(",")]:  # a CSV header, quoted or not
        return _read_csv(text, source)
    entries = []
    for number, line in enumerate(lines, start=1):
        line = line.split("#", 1)[0].strip()
        if line:
            entries.append(DomainEntry(parse_domain(line.split()[0], f"{source} line {number}")))
    return entries


MAX_CELL = 4096  # characters: a domain, a tenant, a list of platforms — never more


def _read_csv(text: str, source: str) -> list[DomainEntry]:
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].lstrip().startswith("#")]
    except csv.Error as err:  # a field over the csv module's limit (128 KiB), a NUL …
        raise UserError(f"{source}: not a readable CSV ({err}); a cell holds at most {MAX_CELL} characters") \
            from None
    for number, row in enumerate(rows, start=1):
        if any(len(cell) > MAX_CELL for cell in row):
            raise UserError(f"{source}: row {number} has a cell of more than {MAX_CELL} characters: not a domain "
                            "list")
    header = [c.strip().lower() for c in rows[0]]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise UserError(f"{source}: unknown column {unknown[0]!r} (columns: {', '.join(CSV_COLUMNS)})")
    entries = []
    for number, row in enumerate(rows[1:], start=2):
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        where = f"{source} line {number}"
        parked = cells.get("parked", "").lower()
        if parked not in ("", "true", "false", "yes", "no", "1", "0"):
            raise UserError(f"{where}: parked must be true or false, not {parked!r}")
        entries.append(DomainEntry(parse_domain(cells.get("domain", ""), where), cells.get("tenant") or None,
                                   _cell_list(cells.get("expect", "")), cells.get("provider") or None,
                                   _cell_list(cells.get("tags", "")), parked in ("true", "yes", "1")))
    return entries


def _cell_list(cell: str) -> list[str]:
    return [v for v in re.split(r"[;\s]+", cell) if v]


def load_domain_list(path: Path | str, stdin: io.TextIOBase | None = None) -> list[DomainEntry]:
    """A list file, or standard input for "-"."""
    if str(path) == "-":
        import sys

        return read_domain_list((stdin or sys.stdin).read(), "standard input")
    return read_domain_list(read_text(Path(path), "domain list"), str(path))


def unique(entries: list[DomainEntry], source: str) -> list[DomainEntry]:
    """A domain listed twice is a mistake in a fleet list (two sets of settings for one name)."""
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.name in seen:
            raise UserError(f"{source}: {entry.name} is listed twice")
        seen[entry.name] = i
    return entries
