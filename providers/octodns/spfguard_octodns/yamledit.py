"""Edits of an octoDNS YAML zone file that keep the file: only the lines of the TXT values that change are
rewritten; comments, key order, quoting and indentation elsewhere stay byte for byte (a one-token change is a
one-line diff in the pull request). ruamel.yaml locates the values (its round-trip loader keeps line and column);
the text is edited in place, and the result is read back with octoDNS's own loader before the file is replaced.

Handled: a TXT record at a name (``value:`` or ``values:``, alone or in a list of records) whose SPF value is
replaced; a new name (a chained ``_spfN`` record) inserted where octoDNS's natural key order puts it; a name
holding only that TXT record removed. Anything else (a split zone directory, a name whose non-SPF values change)
is :class:`NotEditable`, and octoDNS rewrites the file as it always has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from spfguard.provider import Change


class NotEditable(Exception):
    """The change cannot be made by editing lines; octoDNS's own writer is used instead."""


_PLAIN = re.compile(r"[A-Za-z0-9_=][^\n#:]*(?::[^ \n#][^\n#:]*)*")


def scalar(value: str) -> str:
    """A YAML scalar for ``value``: plain when YAML reads it back unchanged, else double-quoted."""
    if _PLAIN.fullmatch(value) and not value.endswith(" ") and value.lower() not in ("yes", "no", "true", "false",
                                                                                      "null", "on", "off", "~"):
        return value
    return json.dumps(value, ensure_ascii=False)


def _scalar_end(line: str, col: int) -> int:
    """Where the scalar starting at ``col`` ends (its closing quote, or before a trailing comment)."""
    quote = line[col] if col < len(line) else ""
    if quote in ('"', "'"):
        i = col + 1
        while i < len(line):
            if quote == '"' and line[i] == "\\":
                i += 2
                continue
            if line[i] == quote:
                if quote == "'" and i + 1 < len(line) and line[i + 1] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        return len(line.rstrip("\n"))  # it goes on over the next lines
    comment = line.find(" #", col)
    return comment if comment >= 0 else len(line.rstrip("\n"))


def _natural(key: str):
    from natsort import natsort_keygen

    return natsort_keygen()(key)


def edit(text: str, relative: str, change: Change, escape_semicolons: bool) -> str:
    """``text`` with the TXT values at ``relative`` (``''``: the apex) changed from ``change.before`` to
    ``change.after``."""
    from ruamel.yaml import YAML

    def written(value: str) -> str:
        return value.replace(";", "\\;") if escape_semicolons else value

    data = YAML().load(text) or {}
    lines = text.splitlines(keepends=True)
    if relative not in data:
        if not change.after:
            return text
        return _insert(lines, data, relative, [written(v) for v in change.after])
    node = data[relative]
    records = node if isinstance(node, list) else [node]
    txt = [r for r in records if isinstance(r, dict) and str(r.get("type", "")).upper() == "TXT"]
    if len(txt) != 1:
        raise NotEditable(f"{relative or '@'} has {len(txt)} TXT records in the file")
    record: Any = txt[0]
    if not change.after:
        if len(records) != 1:
            raise NotEditable(f"{relative or '@'} holds other records besides the TXT one")
        return _remove(lines, data, relative)
    before = [str(v) for v in (record["values"] if "values" in record else [record.get("value")])]
    unescaped = [v.replace("\\;", ";") for v in before]
    after = list(change.after)
    kept_before = [v for v in unescaped if not v.lower().startswith("v=spf1")]
    kept_after = [v for v in after if not v.lower().startswith("v=spf1")]
    spf_after = [v for v in after if v.lower().startswith("v=spf1")]
    if kept_before != kept_after or len(spf_after) != 1:
        raise NotEditable(f"{relative or '@'}: values other than the SPF record change")
    index = next((i for i, v in enumerate(unescaped) if v.lower().startswith("v=spf1")), None)
    if index is None:
        raise NotEditable(f"{relative or '@'} has no SPF value to replace")
    if "values" in record:
        line, col = record["values"].lc.item(index)
    else:
        line, col = record.lc.value("value")
    source = lines[line]
    end = _scalar_end(source, col)
    if end < len(source.rstrip("\n")) and source[end:].strip() and not source[end:].lstrip().startswith("#"):
        raise NotEditable("the value continues past its line")
    following = _continuation(lines, line)  # a long value that YAML folded over several lines
    tail = source[end:] if not following else "\n"
    lines[line:line + 1 + following] = [source[:col] + scalar(written(spf_after[0])) + tail]
    return "".join(lines)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _continuation(lines: list[str], line: int) -> int:
    """How many lines after ``line`` continue its scalar: indented deeper, neither a list item nor a key."""
    count = 0
    for following in lines[line + 1:]:
        stripped = following.strip()
        if not stripped or stripped.startswith("#") or _indent(following) <= _indent(lines[line]) or \
                stripped.startswith("- ") or re.match(r"[^\s:'\"]+:(\s|$)", stripped):
            break
        count += 1
    return count


def _top_keys(data) -> list[tuple[str, int]]:
    return sorted(((str(k), data.lc.key(k)[0]) for k in data), key=lambda item: item[1])


def _block_start(lines: list[str], line: int) -> int:
    """The first line of the comments and blank lines directly above ``line`` (they belong to that key)."""
    while line > 0 and (lines[line - 1].lstrip().startswith("#") or not lines[line - 1].strip()):
        line -= 1
    return line


def _insert(lines: list[str], data, relative: str, values: list[str]) -> str:
    block = [f"{scalar(relative)}:\n", "  type: TXT\n"]
    if len(values) == 1:
        block.append(f"  value: {scalar(values[0])}\n")
    else:
        block += ["  values:\n", *(f"  - {scalar(v)}\n" for v in values)]
    keys = _top_keys(data)
    following = [line for key, line in keys if _natural(key) > _natural(relative)]
    if following:
        at = _block_start(lines, following[0])
        return "".join(lines[:at] + block + lines[at:])
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines + block)


def _remove(lines: list[str], data, relative: str) -> str:
    keys = _top_keys(data)
    start = dict(keys)[relative]
    later = [line for _, line in keys if line > start]
    end = _block_start(lines, later[0]) if later else len(lines)
    return "".join(lines[:start] + lines[end:])


def edit_zone_text(text: str, zone: str, changes: Sequence[Change], escape_semicolons: bool) -> str:
    for change in changes:
        fqdn = change.name.rstrip(".").lower()
        relative = "" if fqdn == zone else fqdn.removesuffix("." + zone)
        text = edit(text, relative, change, escape_semicolons)
    return text
