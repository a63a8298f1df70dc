"""Edit an RFC 1035 zone file in place — for offline use and DNS-as-code repositories.

Only the TXT records that change are touched: unchanged records, comments and layout stay byte for byte;
removed values lose their lines, new values are written where the name's first removed TXT record was (or at
the end of the file), and the SOA serial is bumped (to YYYYMMDD00 style when it looks like a date). The
result is parsed again before it replaces the file.

The write is safe against other writers: a symlink is followed and the real file edited; the whole
read-compare-modify-write holds an exclusive lock (``fcntl``) on a lock file beside it, so concurrent writers take
turns and each compares with what the one before wrote; the new text is written to a temporary file in the same
folder, given the file's mode and owner, and renamed over it; CRLF line endings are kept.

Settings: ``path`` (``SPFGUARD_ZONEFILE``); ``ttl`` for new records (default: the file's ``$TTL``).
"""

from __future__ import annotations

import datetime
import fcntl
import os
import re
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone

from spfguard.dns.zonefile import origin_of
from spfguard.provider.base import Change, ConflictError, Provider, ProviderError, same_values
from spfguard.provider.txt import quote, unquote

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
    env_defaults = {"path": "SPFGUARD_ZONEFILE"}
    path_keys = ("path",)
    guarantee = "atomic compare-and-set"
    credentials = "none (file permissions)"

    def __init__(self, settings=None):
        super().__init__(settings)
        path = self.settings.get("path")
        if not path:
            raise ProviderError("zonefile: no zone file: set SPFGUARD_ZONEFILE or [providers.zonefile] path")
        self.path = Path(path).expanduser()

    @property
    def real_path(self) -> Path:
        """The file a symlink points to: the one edited (replacing the link by a copy would cut it off)."""
        return self.path.resolve()

    def describe(self) -> dict:
        return {"provider": self.name, "path": str(self.path)}

    def _read(self) -> str:
        try:
            with open(self.real_path, encoding="utf-8", newline="") as fh:  # newline="": CRLF kept as it is
                return fh.read()
        except OSError as err:
            raise ProviderError(f"zonefile: cannot read {self.path}: {err.strerror}") from None
        except UnicodeDecodeError:
            raise ProviderError(f"zonefile: {self.path} is not UTF-8 text") from None

    def _zone(self, text: str | None = None) -> dns.zone.Zone:
        text = self._read() if text is None else text
        origin = None if "$ORIGIN" in text else self.path.name.removesuffix(".zone").rstrip(".") + "."
        try:
            return dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
        except (dns.exception.DNSException, ValueError) as err:
            raise ProviderError(f"zonefile: {self.path} is not a valid zone file: {err}") from None

    def zone_of(self, name: str) -> str:
        return origin_of(self._zone()).to_text(omit_final_dot=True)

    def list_zones(self) -> list[str]:
        return [self.zone_of("")]

    def read_txt(self, name: str) -> list[str]:
        return _values(self._zone(), name)

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        node = self._zone().get_node(dns.name.from_text(name))
        rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT) if node else None
        return [tuple(s.decode("utf-8", errors="replace") for s in r.strings) for r in rdataset or []]

    @contextmanager
    def _locked(self):
        lock_path = self.real_path.with_name(self.real_path.name + ".spfguard-lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise ProviderError(f"zonefile: cannot lock {self.path}: {err.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits for a concurrent writer to finish
            yield
        finally:
            os.close(fd)

    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        with self._locked():  # one locked read-compare-modify-write of the file for the whole plan
            text = self._read()
            current_zone = self._zone(text)
            for change in changes:
                current = _values(current_zone, change.name)
                if not same_values(current, change.before):
                    raise ConflictError(change.name, change.before, current)
            newline = "\r\n" if "\r\n" in text else "\n"
            for change in changes:
                text = self._edit(text, change, newline)
            text = _bump_serial(text, self._zone(text))
            self._zone(text)  # must still parse
            self._replace(text)

    def _replace(self, text: str) -> None:
        target = self.real_path
        tmp = target.with_name(f".{target.name}.spfguard-tmp")
        try:
            info = target.stat()
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, info.st_mode & 0o7777)
            try:
                os.chown(tmp, info.st_uid, info.st_gid)
            except PermissionError:
                pass  # not root: the file stays ours, as any edit by this user would leave it
            os.replace(tmp, target)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise ProviderError(f"zonefile: cannot write {self.path}: {err.strerror}") from None

    def _edit(self, text: str, change: Change, newline: str = "\n") -> str:
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
        for entry in _entries(lines, origin_of(zone)):
            if entry.owner != target or entry.rdtype != "TXT":
                continue
            value = "".join(s for t, _, _ in entry.tokens if t.startswith('"') for s in unquote(t))
            if value in remove_values:
                remove_values.remove(value)
                drop.update(range(entry.start, entry.end + 1))
                insert_at = entry.start if insert_at is None else insert_at
        ttl = self.settings.get("ttl")
        new_lines = [f"{target.to_text()} {str(ttl) + ' ' if ttl else ''}IN TXT "
                     + quote(change.strings_for(v)) + newline for v in add]
        out = []
        for i, line in enumerate(lines):
            if i == insert_at:
                out.extend(new_lines)
            if i not in drop:
                out.append(line)
        if insert_at is None:
            if out and not out[-1].endswith("\n"):
                out[-1] += newline
            out.extend(new_lines)
        return "".join(out)


def _values(zone: dns.zone.Zone, name: str) -> list[str]:
    node = zone.get_node(dns.name.from_text(name))
    rdataset = node.get_rdataset(zone.rdclass, dns.rdatatype.TXT) if node else None
    return [b"".join(r.strings).decode("utf-8", errors="replace") for r in rdataset or []]


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
    for entry in _entries(lines, origin_of(zone)):
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
