"""Edit an RFC 1035 zone file in place — for offline use and DNS-as-code repositories.

Only the TXT records that change are touched: unchanged records, comments and layout stay byte for byte;
removed values lose their lines, new values are written where the name's first removed TXT record was (or at
the end of the file), and the SOA serial is bumped (to YYYYMMDD00 style when it looks like a date). The
result is parsed again before it replaces the file (atomically, under a lock).

Settings: ``path`` (``SPFGUARD_ZONEFILE``); ``ttl`` for new records (default: the file's ``$TTL``).
"""

from __future__ import annotations

import datetime
import fcntl
import os
import re
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone

from spfguard.fix.plan import Change
from spfguard.provider.base import ConflictError, Provider, ProviderError, same_values

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\(|\)|;[^\n]*|[^\s()";]+')


@dataclass
class _Entry:
    start: int  # first line index
    end: int  # last line index (inclusive)
    owner: dns.name.Name
    rdtype: str
    tokens: list[tuple[str, int, int]]  # (text, line index, column) of the rdata and header tokens


class ZoneFileProvider(Provider):
    name = "zonefile"
    settings_keys = ("path", "ttl")
    guarantee = "atomic compare-and-set"
    credentials = "none (file permissions)"

    def __init__(self, settings=None):
        super().__init__(settings)
        path = self.settings.get("path") or os.environ.get("SPFGUARD_ZONEFILE")
        if not path:
            raise ProviderError("zonefile: no zone file: set SPFGUARD_ZONEFILE or [providers.zonefile] path")
        self.path = Path(path).expanduser()

    def describe(self) -> dict:
        return {"provider": self.name, "path": str(self.path)}

    def _zone(self, text: str | None = None) -> dns.zone.Zone:
        try:
            text = self.path.read_text() if text is None else text
            origin = None if "$ORIGIN" in text else self.path.name.removesuffix(".zone").rstrip(".") + "."
            return dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
        except OSError as err:
            raise ProviderError(f"zonefile: cannot read {self.path}: {err.strerror}") from None
        except dns.exception.DNSException as err:
            raise ProviderError(f"zonefile: {self.path} is not a valid zone file: {err}") from None

    def zone_of(self, name: str) -> str:
        return self._zone().origin.to_text(omit_final_dot=True)

    def read_txt(self, name: str) -> list[str]:
        return _values(self._zone(), name)

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        node = self._zone().get_node(dns.name.from_text(name))
        rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT) if node else None
        return [tuple(s.decode("utf-8", errors="replace") for s in r.strings) for r in rdataset or []]

    def apply(self, changes) -> None:
        # one locked read-modify-write of the file for the whole plan
        with open(self.path, "r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            text = self.path.read_text()
            zone = self._zone(text)
            for change in changes:
                current = _values(zone, change.name)
                if not same_values(current, change.before):
                    raise ConflictError(change.name, change.before, current)
            for change in changes:
                text = self._edit(text, change)
            text = _bump_serial(text, self._zone(text))
            self._zone(text)  # must still parse
            tmp = self.path.with_suffix(self.path.suffix + ".spfguard-tmp")
            tmp.write_text(text)
            os.replace(tmp, self.path)

    def _write(self, change: Change) -> None:  # pragma: no cover - apply() is overridden
        self.apply([change])

    def _edit(self, text: str, change: Change) -> str:
        zone = self._zone(text)
        lines = text.splitlines(keepends=True)
        target = dns.name.from_text(change.name)
        remove_values = list(change.before)
        for value in change.after:
            if value in remove_values:
                remove_values.remove(value)  # unchanged: its line stays as it is
        keep_after = list(change.before)
        for value in remove_values:
            keep_after.remove(value)
        add = list(change.after)
        for value in keep_after:
            add.remove(value)
        insert_at = None
        drop: set[int] = set()
        for entry in _entries(lines, zone.origin):
            if entry.owner != target or entry.rdtype != "TXT":
                continue
            value = "".join(_unquote(t) for t, _, _ in entry.tokens if t.startswith('"'))
            if value in remove_values:
                remove_values.remove(value)
                drop.update(range(entry.start, entry.end + 1))
                insert_at = entry.start if insert_at is None else insert_at
        ttl = self.settings.get("ttl")
        new_lines = [f"{target.to_text()} {str(ttl) + ' ' if ttl else ''}IN TXT "
                     + " ".join(_quote(s) for s in change.strings_for(v)) + "\n" for v in add]
        out = []
        for i, line in enumerate(lines):
            if i == insert_at:
                out.extend(new_lines)
            if i not in drop:
                out.append(line)
        if insert_at is None:
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n"
            out.extend(new_lines)
        return "".join(out)


def _values(zone: dns.zone.Zone, name: str) -> list[str]:
    node = zone.get_node(dns.name.from_text(name))
    rdataset = node.get_rdataset(zone.rdclass, dns.rdatatype.TXT) if node else None
    return [b"".join(r.strings).decode("utf-8", errors="replace") for r in rdataset or []]


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(\d{3}|.)", lambda m: chr(int(m.group(1))) if m.group(1).isdigit() else m.group(1), body)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_CLASSES = {"IN", "CH", "HS", "CS"}


def _entries(lines: list[str], origin: dns.name.Name):
    """Logical records with their line spans (parentheses joined, comments ignored)."""
    owner = origin
    i = 0
    while i < len(lines):
        start = i
        tokens: list[tuple[str, int, int]] = []
        depth = 0
        while True:
            for m in _TOKEN.finditer(lines[i]):
                t = m.group()
                if t.startswith(";"):
                    continue
                if t == "(":
                    depth += 1
                elif t == ")":
                    depth -= 1
                else:
                    tokens.append((t, i, m.start()))
            if depth <= 0 or i + 1 >= len(lines):
                break
            i += 1
        end = i
        i += 1
        if not tokens:
            continue
        first = lines[start]
        if tokens[0][0].startswith("$"):
            if tokens[0][0].upper() == "$ORIGIN" and len(tokens) > 1:
                origin = dns.name.from_text(tokens[1][0], origin)
            continue
        if not first[:1].isspace():
            name_text = tokens.pop(0)[0]
            owner = origin if name_text == "@" else dns.name.from_text(name_text, origin)
        rdtype = next((t for t, _, _ in tokens if t.upper() not in _CLASSES and not t.isdigit()
                       and not re.fullmatch(r"\d+[smhdwSMHDW]\w*", t)), "")
        idx = next((k for k, (t, _, _) in enumerate(tokens) if t == rdtype), 0)
        yield _Entry(start, end, owner, rdtype.upper(), tokens[idx + 1 :])


def _bump_serial(text: str, zone: dns.zone.Zone) -> str:
    lines = text.splitlines(keepends=True)
    for entry in _entries(lines, zone.origin):
        if entry.rdtype == "SOA" and len(entry.tokens) >= 3:
            serial_text, line, column = entry.tokens[2]
            serial = int(serial_text)
            today = int(datetime.date.today().strftime("%Y%m%d")) * 100
            new = max(serial + 1, today) if 1990010100 <= serial <= 2100123199 else serial + 1
            new %= 2**32
            row = lines[line]
            lines[line] = row[:column] + str(new) + row[column + len(serial_text):]
            return "".join(lines)
    raise ProviderError("zonefile: no SOA record found to bump the serial")
