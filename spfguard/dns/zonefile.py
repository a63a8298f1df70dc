"""Offline DNS from RFC 1035 master files (``--zone PATH``).

``ZoneFileDns.load(path, ...)`` reads files, or every ``*.zone`` file in directories, with dnspython's zone
parser. A file without ``$ORIGIN`` takes its origin from its name (``aacn.org.zone`` -> ``aacn.org.``).
Names below a loaded zone answer as an authoritative server would (NXDOMAIN, NODATA, CNAME followed,
``*`` wildcards); names outside every loaded zone are a temporary failure ("not in the loaded zones"),
because the offline data cannot tell whether they exist.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from spfguard.dns.base import Answer, Status, answer, normalise_name
from spfguard.dns.convert import convert
from spfguard.errors import UserError
from spfguard.textfile import read_text

MAX_CNAME_CHAIN = 8


class ZoneLoadError(UserError):
    """A zone file that cannot be read or parsed: the message names the file (and line)."""


def origin_of(zone: dns.zone.Zone) -> dns.name.Name:
    """A loaded zone's origin (dnspython types it as optional; a zone read from a file always has one)."""
    return cast(dns.name.Name, zone.origin)


class ZoneFileDns:
    shares_subtrees = True  # the same answers for the whole run: walked subtrees are shared (spfguard.tree)
    def __init__(self, zones: list[dns.zone.Zone], files: dict[int, Path] | None = None):
        # longest origin first, so that a child zone wins over its parent
        self.zones = sorted(zones, key=lambda z: len(origin_of(z).labels), reverse=True)
        # every name that has a node below it (empty non-terminals included), per zone: built once, so that an
        # NXDOMAIN/NODATA answer or a wildcard search never scans the zone
        self._ancestors = {id(z): _ancestors(z) for z in self.zones}
        self._answers: dict[tuple[str, str], Answer] = {}  # the files do not change while they are read
        self._files = files or {}  # id(zone) -> the file it was read from
        self.queries: list[tuple[str, str]] = []

    @classmethod
    def load(cls, *paths: str | os.PathLike) -> ZoneFileDns:
        files: list[Path] = []
        for path in map(Path, paths):
            if path.is_dir():
                found = sorted(path.glob("*.zone"))
                if not found:
                    raise ZoneLoadError(f"{path}: no *.zone files in this directory")
                files.extend(found)
            elif path.is_file():
                files.append(path)
            else:
                raise ZoneLoadError(f"{path}: no such file or directory")
        zones = [load_zone_file(f) for f in files]
        return cls(zones, {id(z): f for z, f in zip(zones, files, strict=True)})

    def spf_names(self) -> list[str]:
        """Every name of the loaded zones that publishes a TXT record starting with v=spf1 (RFC 7208 §4.5)."""
        found = []
        for zone in self.zones:
            for name, node in zone.nodes.items():
                rdataset = node.get_rdataset(zone.rdclass, dns.rdatatype.TXT)
                if rdataset is not None and any(b"".join(r.strings).lower().startswith(b"v=spf1")
                                                for r in rdataset):
                    found.append(str(name).rstrip(".").lower())
        return sorted(set(found), key=lambda n: (n.count("."), n))

    def locate(self, name: str) -> tuple[Path, int] | None:
        """The file and line (1-based) of ``name``'s SPF record in the zone files, for annotations (SARIF); None
        when it is not written in one of them (a wildcard answers it, or another source does)."""
        try:
            qname = dns.name.from_text(normalise_name(name) or ".")
        except dns.exception.DNSException:
            return None
        zone = self._zone_for(qname)
        if zone is None or id(zone) not in self._files:
            return None
        path = self._files[id(zone)]
        line = spf_line(read_text(path, "zone file"), origin_of(zone), qname)
        return (path, line) if line else None

    def _zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        return next((z for z in self.zones if name.is_subdomain(origin_of(z))), None)

    async def query(self, name: str, rdtype: str) -> Answer:
        key = (normalise_name(name), rdtype)
        self.queries.append(key)
        if key not in self._answers:
            self._answers[key] = self.lookup(name, rdtype)
        return self._answers[key]

    def lookup(self, name: str, rdtype: str) -> Answer:
        try:
            qname = dns.name.from_text(normalise_name(name) or ".")
        except dns.exception.DNSException as err:
            return Answer(name, rdtype, Status.NXDOMAIN, error=f"not a valid DNS name: {err}")
        wanted = dns.rdatatype.from_text(rdtype)
        for _ in range(MAX_CNAME_CHAIN):
            zone = self._zone_for(qname)
            if zone is None:
                return Answer(name, rdtype, Status.TEMPFAIL, error=f"{qname} is not in the loaded zone files")
            ancestors = self._ancestors[id(zone)]
            node = zone.get_node(qname)
            if node is None:
                if qname in ancestors:  # an empty non-terminal exists: NODATA, never a wildcard (RFC 4592 §2.2.2)
                    return Answer(name, rdtype, Status.NODATA)
                node = _wildcard(zone, qname, ancestors)
            if node is None:
                return Answer(name, rdtype, Status.NXDOMAIN)
            rdataset = node.get_rdataset(zone.rdclass, wanted)
            if rdataset is not None:
                return answer(name, rdtype, convert(rdtype, rdataset))
            cname = node.get_rdataset(zone.rdclass, dns.rdatatype.CNAME)
            if cname is None:
                return Answer(name, rdtype, Status.NODATA)
            qname = cname[0].target
        return Answer(name, rdtype, Status.TEMPFAIL, error="CNAME chain too long (loop?)")


def spf_line(text: str, origin: dns.name.Name, name: dns.name.Name) -> int:
    """The line of ``name``'s TXT record that starts with v=spf1, following $ORIGIN and blank owners (RFC 1035
    §5.1); 0 when there is none."""
    owner = origin
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split(";", 1)[0] if '"' not in line.split(";", 1)[0] or line.count('"') % 2 == 0 else line
        if not body.strip():
            continue
        first = body.split()[0]
        if first.upper() == "$ORIGIN" and len(body.split()) > 1:
            origin = dns.name.from_text(body.split()[1], origin)
            continue
        if first.startswith("$"):
            continue
        if not line[0].isspace():
            try:
                owner = origin if first == "@" else dns.name.from_text(first, origin)
            except dns.exception.DNSException:
                continue
        if owner == name and "TXT" in body.upper().split() and "v=spf1" in body.lower():
            return number
    return 0


def _ancestors(zone: dns.zone.Zone) -> frozenset[dns.name.Name]:
    out = set()
    origin = origin_of(zone)
    for name in zone.nodes:
        while name != origin and len(name) > len(origin):
            name = name.parent()
            if name in out:
                break
            out.add(name)
    return frozenset(out)


def _wildcard(zone: dns.zone.Zone, qname: dns.name.Name, ancestors: frozenset[dns.name.Name]):
    """RFC 4592: the wildcard child of the closest encloser (the nearest ancestor that exists)."""
    parent = qname.parent()
    while parent.is_subdomain(origin_of(zone)):
        wildcard = zone.get_node(dns.name.Name((b"*",) + parent.labels))
        if wildcard is not None:
            return wildcard
        if parent == zone.origin or zone.get_node(parent) is not None or parent in ancestors:
            return None
        parent = parent.parent()
    return None


def load_zone_file(path: Path) -> dns.zone.Zone:
    text = read_text(path, "zone file")
    origin = None if "$ORIGIN" in text else path.name.removesuffix(".zone").rstrip(".") + "."
    try:
        return dns.zone.from_text(text, origin=origin, relativize=False, filename=str(path),
                                  check_origin=False)
    except dns.exception.DNSException as err:
        raise ZoneLoadError(f"{path}: {err}") from None
    except ValueError as err:  # dnspython raises plain ValueError for some malformed rdata
        raise ZoneLoadError(f"{path}: {err}") from None
