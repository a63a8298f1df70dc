"""Edit an RFC 1035 zone file in place — for offline use and DNS-as-code repositories.

Only the TXT records that change are touched: unchanged records, comments and layout stay byte for byte;
removed values lose their lines, new values are written where the name's first removed TXT record was (or at
the end of the file) with that record's TTL, and the SOA serial is bumped (to YYYYMMDD00 style when it looks like a
date).

**Every write is checked before it is made.** The edit is made on a copy, which is parsed back and compared, name
by name, with what the plan asked for — values, character-strings and TTL at every changed name, nothing changed
anywhere else — and only then does it replace the file; anything else is refused with nothing written. A name
whose TXT values cannot be located one line each (a value listed twice, which DNS software merges into one) is
refused before any edit: "cannot locate the record in the file: it is listed twice". Values written in the
generic form of RFC 3597 (``TYPE16 \\# …``) are read and replaced like TXT lines.

Only the file's TXT records matter here: other records are not parsed, so an unrelated mistake (a TLSA digest of
the wrong length, a CNAME beside other data at the apex) never stops a write; a mistake in a TXT record is named
with its line.

The write is safe against other writers: a symlink is followed and the real file edited; the whole
read-compare-modify-write holds an exclusive lock (``fcntl``) on a lock file beside it, removed afterwards, so
concurrent writers take turns and each compares with what the one before wrote; the new text is written to a
temporary file in the same folder, given the file's mode and owner, and renamed over it; CRLF line endings are
kept.

Settings: ``path`` (``SPFGUARD_ZONEFILE``); ``zone`` (the zone's name when the file has no ``$ORIGIN`` and its
name is not ``ZONE.zone``); ``ttl`` for records at names that had none (default: the file's ``$TTL``).
"""

from __future__ import annotations

import datetime
import fcntl
import os
import re
from collections import Counter
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
from spfguard.provider.base import Change, ConflictError, Provider, ProviderError, SettingsError, same_values
from spfguard.provider.txt import quote, unquote

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\(|\)|;[^\n]*|[^\s()";]+')
_TTL = re.compile(r"\d+[smhdwSMHDW]?(?:\d+[smhdwSMHDW])*")
_CLASSES = {"IN", "CH", "HS", "CS"}
_TXT_TYPES = {"TXT", "TYPE16"}
PLACEHOLDER = "TYPE65280 \\# 0"  # a private-use type with no data: keeps line numbers and owner inheritance


@dataclass
class _Entry:
    start: int  # first line index
    end: int  # last line index (inclusive)
    owner: dns.name.Name
    rdtype: str
    tokens: list[tuple[str, int, int]]  # (text, line index, column) of the rdata
    ttl: str | None = None  # the record's own TTL, as written
    explicit_owner: bool = True  # the line names its owner (else it inherits the one above)

    def value(self) -> str | None:
        """The TXT value of a TXT or TYPE16 entry (character-strings joined), None when it cannot be read."""
        strings = self.strings()
        return None if strings is None else "".join(strings)

    def strings(self) -> tuple[str, ...] | None:
        texts = [t for t, _, _ in self.tokens]
        if self.rdtype == "TYPE16":
            return _generic_strings(texts)
        out: list[str] = []
        for text in texts:
            out += list(unquote(text)) if text.startswith('"') else [text]
        return tuple(out)


def _generic_strings(texts: list[str]) -> tuple[str, ...] | None:
    """RFC 3597 ``\\# LENGTH HEX…`` as TXT character-strings (each one length octet, then its bytes)."""
    if len(texts) < 2 or texts[0] != "\\#":
        return None
    try:
        data = bytes.fromhex("".join(texts[2:]))
    except ValueError:
        return None
    out, i = [], 0
    while i < len(data):
        size = data[i]
        out.append(data[i + 1:i + 1 + size].decode("utf-8", errors="replace"))
        i += 1 + size
    return tuple(out)


class ZoneFileProvider(Provider):
    name = "zonefile"
    settings_keys = ("path", "ttl", "zone")
    env_defaults = {"path": "SPFGUARD_ZONEFILE"}
    path_keys = ("path",)
    guarantee = "atomic compare-and-set"
    credentials = "none (file permissions)"

    def __init__(self, settings=None):
        super().__init__(settings)
        path = self.settings.get("path")
        if not path:
            raise SettingsError("zonefile: no zone file: set SPFGUARD_ZONEFILE or [providers.zonefile] path")
        self.path = Path(path).expanduser()

    @property
    def real_path(self) -> Path:
        """The file a symlink points to: the one edited (replacing the link by a copy would cut it off)."""
        try:
            return self.path.resolve(strict=False)
        except (RuntimeError, OSError):
            raise ProviderError(f"zonefile: {self.path}: a loop of symbolic links, not a file") from None

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

    def _origin(self, text: str) -> dns.name.Name:
        """The zone's name: the file's first $ORIGIN, else the setting, else the file's name (ZONE.zone)."""
        match = re.search(r"^\$ORIGIN\s+(\S+)", text, re.M | re.I)
        name = match.group(1) if match else self.settings.get("zone") or self.path.name.removesuffix(".zone")
        try:
            return dns.name.from_text(str(name).rstrip(".") + ".")
        except dns.exception.DNSException:
            raise ProviderError(f"zonefile: {self.path}: cannot tell the zone's name ({name!r}); set "
                                "[providers.zonefile] zone") from None

    def _zone(self, text: str | None = None) -> dns.zone.Zone:
        """The file's TXT records as a zone (other records are not parsed: placeholders keep their lines)."""
        text = self._read() if text is None else text
        origin = self._origin(text)
        try:
            return dns.zone.from_text(_txt_only(text, origin), origin=origin, relativize=False, check_origin=False)
        except (dns.exception.DNSException, ValueError) as err:
            where = re.sub(r"^<string>:(\d+):", lambda m: f"line {m.group(1)}:", str(err))
            raise ProviderError(f"zonefile: {self.path} is not a valid zone file: {where}") from None

    def zone_of(self, name: str) -> str:
        return origin_of(self._zone()).to_text(omit_final_dot=True)

    def list_zones(self) -> list[str]:
        return [self.zone_of("")]

    def read_txt(self, name: str) -> list[str]:
        zone = self._zone()
        self._inside(zone, name)
        return _values(zone, name)

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        node = self._zone().get_node(dns.name.from_text(name))
        rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT) if node else None
        return [tuple(s.decode("utf-8", errors="replace") for s in r.strings) for r in rdataset or []]

    def _inside(self, zone: dns.zone.Zone, name: str) -> None:
        origin = origin_of(zone)
        if not dns.name.from_text(name).is_subdomain(origin):
            raise ProviderError(f"zonefile: {name} is not in the zone of {self.path} ({origin.to_text(True)}, from "
                                "its $ORIGIN or its file name); set [providers.zonefile] zone")

    @contextmanager
    def _locked(self):
        """An exclusive lock on a lock file beside the zone, removed when done (a writer that waited on a lock
        file another writer has removed since takes the new one)."""
        lock_path = self.real_path.with_name(self.real_path.name + ".spfguard-lock")
        while True:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as err:
                raise ProviderError(f"zonefile: cannot lock {self.path}: {err.strerror}") from None
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits for a concurrent writer to finish
            try:
                if os.fstat(fd).st_ino == os.stat(lock_path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)  # that lock file was removed while we waited: lock the current one
        try:
            yield
        finally:
            try:
                os.unlink(lock_path)
            except OSError:
                pass
            os.close(fd)

    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        with self._locked():  # one locked read-compare-modify-write of the file for the whole plan
            text = self._read()
            current_zone = self._zone(text)
            for change in changes:
                self._inside(current_zone, change.name)
                current = _values(current_zone, change.name)
                if not same_values(current, change.before):
                    raise ConflictError(change.name, change.before, current)
                self._locatable(text, current_zone, change.name)
            newline = "\r\n" if "\r\n" in text else "\n"
            edited = text
            for change in changes:
                edited = self._edit(edited, change, newline)
            edited = _bump_serial(edited, origin_of(current_zone))
            self._check(text, edited, changes)
            self._replace(edited)

    def _locatable(self, text: str, zone: dns.zone.Zone, name: str) -> None:
        """Every TXT value at ``name`` on a line of its own: a value listed twice (DNS servers merge the two) or
        one that cannot be read cannot be edited safely."""
        target = dns.name.from_text(name)
        entries = [e for e in _entries(text.splitlines(keepends=True), origin_of(zone))
                   if e.owner == target and e.rdtype in _TXT_TYPES]
        values = [e.value() for e in entries]
        if None in values:
            line = entries[values.index(None)].start + 1
            raise ProviderError(f"zonefile: cannot locate the record of {name} in {self.path}: line {line} cannot "
                                "be read; nothing was written")
        twice = [v for v, n in Counter(values).items() if n > 1]
        if twice:
            lines = [str(e.start + 1) for e in entries if e.value() == twice[0]]
            raise ProviderError(f"zonefile: cannot locate the record of {name} in {self.path}: it is listed twice "
                                f"(lines {', '.join(lines)}); remove the copy by hand — nothing was written")

    def _check(self, before: str, after: str, changes: Sequence[Change]) -> None:
        """The edited copy, parsed back, holds exactly what the plan asked for at each changed name — values,
        character-strings, TTL — and every other TXT record as it was; else nothing is written."""
        old, new = self._zone(before), self._zone(after)
        changed = {dns.name.from_text(c.name) for c in changes}
        for change in changes:
            name = dns.name.from_text(change.name)
            self._locatable(after, new, change.name)
            got = sorted(_values(new, change.name))
            if got != sorted(change.after):
                raise ProviderError(f"zonefile: the edited file would hold {len(got)} TXT value(s) at {change.name}, "
                                    f"not the {len(change.after)} planned; nothing was written")
            strings = {"".join(s): s for s in (tuple(x.decode("utf-8", "replace") for x in r.strings)
                                               for r in _rdataset(new, name) or [])}
            for value in change.after:
                if value not in change.before and strings.get(value) != tuple(change.strings_for(value)):
                    raise ProviderError(f"zonefile: {change.name} would not be written as planned (its "
                                        "character-strings differ); nothing was written")
            was, now = _rdataset(old, name), _rdataset(new, name)
            if was and now and was.ttl != now.ttl:
                raise ProviderError(f"zonefile: {change.name} would change its TTL ({was.ttl} → {now.ttl}); nothing "
                                    "was written")
        for node_name in set(old.nodes) | set(new.nodes):
            if node_name not in changed and sorted(_values(old, node_name.to_text())) != \
                    sorted(_values(new, node_name.to_text())):
                raise ProviderError(f"zonefile: the edit would also change {node_name.to_text(True)}; nothing was "
                                    "written")

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
        insert_at: int | None = None
        ttl: str | None = None
        drop: set[int] = set()
        for entry in _entries(lines, self._origin(text)):
            if entry.owner != target or entry.rdtype not in _TXT_TYPES:
                continue
            value = entry.value()
            if value in remove_values:
                remove_values.remove(value)
                drop.update(range(entry.start, entry.end + 1))
                if insert_at is None:
                    insert_at, ttl = entry.start, entry.ttl  # the replaced record's place and TTL are kept
            elif ttl is None:
                ttl = entry.ttl
        ttl = ttl or (str(self.settings["ttl"]) if self.settings.get("ttl") else None)
        new_lines = [f"{target.to_text()} {ttl + ' ' if ttl else ''}IN TXT " + quote(change.strings_for(v)) + newline
                     for v in add]
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


def _rdataset(zone: dns.zone.Zone, name: dns.name.Name):
    node = zone.get_node(name)
    return node.get_rdataset(zone.rdclass, dns.rdatatype.TXT) if node else None


def _values(zone: dns.zone.Zone, name: str) -> list[str]:
    rdataset = _rdataset(zone, dns.name.from_text(name))
    return [b"".join(r.strings).decode("utf-8", errors="replace") for r in rdataset or []]


def _txt_only(text: str, origin: dns.name.Name) -> str:
    """The zone text with every record that is not TXT (or its generic form) replaced by an empty placeholder of
    the same owner: directives, owners and line numbers stay, other records are not parsed at all."""
    lines = text.splitlines(keepends=True)
    out = list(lines)
    for entry in _entries(lines, origin):
        if entry.rdtype in _TXT_TYPES:
            continue
        first = lines[entry.start]
        owner = first.split(None, 1)[0] if entry.explicit_owner else ""
        ending = "\r\n" if first.endswith("\r\n") else "\n"
        ttl = f"{entry.ttl} " if entry.ttl else ""  # kept: a record after it without a TTL may inherit this one
        out[entry.start] = f"{owner} {ttl}{PLACEHOLDER}{ending}"
        for i in range(entry.start + 1, entry.end + 1):
            out[i] = ending
    return "".join(out)


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
        explicit = not first[:1].isspace()
        if explicit:
            name_text = tokens.pop(0)[0]
            try:
                owner = origin if name_text == "@" else dns.name.from_text(name_text, origin)
            except dns.exception.DNSException:
                continue  # not a name: dnspython names the line when it parses the TXT records
        header = 0
        ttl = None
        while header < len(tokens) and (tokens[header][0].upper() in _CLASSES or _TTL.fullmatch(tokens[header][0])):
            if tokens[header][0].upper() not in _CLASSES:
                ttl = tokens[header][0]
            header += 1
        rdtype = tokens[header][0].upper() if header < len(tokens) else ""
        yield _Entry(start, end, owner, rdtype, tokens[header + 1:], ttl, explicit)


def _bump_serial(text: str, origin: dns.name.Name) -> str:
    lines = text.splitlines(keepends=True)
    for entry in _entries(lines, origin):
        if entry.rdtype == "SOA" and len(entry.tokens) >= 3:
            serial_text, line, column = entry.tokens[2]
            try:
                serial = int(serial_text)
            except ValueError:
                raise ProviderError(f"zonefile: the SOA serial {serial_text!r} on line {line + 1} is not a number") \
                    from None
            today = int(datetime.date.today().strftime("%Y%m%d")) * 100
            new = max(serial + 1, today) if 1990010100 <= serial <= 2100123199 else serial + 1
            new %= 2**32
            row = lines[line]
            lines[line] = row[:column] + str(new) + row[column + len(serial_text):]
            return "".join(lines)
    raise ProviderError("zonefile: no SOA record found to bump the serial")
