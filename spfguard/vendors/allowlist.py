"""Allow-list exports of Exchange Online's outbound ranges, in the form each console takes (the catalogue's
``[allowlists]``: Mimecast's "Source IP Ranges (n.n.n.n/x)" takes IPv4 CIDRs; Google Workspace's inbound-gateway
and IP-allowlist settings take IPv4 and IPv6), and their diff."""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from dataclasses import dataclass

from spfguard.vendors.catalogue import Allowlist, load_catalogue

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def target(name: str) -> Allowlist:
    return load_catalogue().allowlists[name]


def for_target(name: str, networks: list[Network]) -> list[Network]:
    families = target(name).families
    return [n for n in networks if n.version in families]


def render(name: str, networks: list[Network], fmt: str, comment: str) -> str:
    nets = for_target(name, networks)
    if fmt == "text":
        return "".join(f"{n}\n" for n in nets)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(target(name).header)
    writer.writerows((str(n), comment) for n in nets)
    return out.getvalue()


_CANDIDATE = re.compile(r"[0-9A-Fa-f:.]+(?:/\d{1,3})?")


def read_export(text: str) -> set[Network]:
    """The networks of a previous export (text or CSV, ours or hand-edited): anything that parses as one."""
    found = set()
    for token in _CANDIDATE.findall(text):
        try:
            found.add(ipaddress.ip_network(token, strict=False))
        except ValueError:
            continue
    return found


@dataclass
class Diff:
    added: list[Network]
    removed: list[Network]
    unchanged: int

    def render(self) -> str:
        if not self.added and not self.removed:
            return f"no change: {self.unchanged} range(s) already in the previous export\n"
        lines = [f"{len(self.added)} to add, {len(self.removed)} to remove, {self.unchanged} unchanged"]
        lines += [f"+ {n}" for n in self.added] + [f"- {n}" for n in self.removed]
        return "\n".join(lines) + "\n"


def diff(previous: set[Network], current: list[Network]) -> Diff:
    now = set(current)
    key = lambda n: (n.version, n)  # noqa: E731
    return Diff(sorted(now - previous, key=key), sorted(previous - now, key=key), len(now & previous))
