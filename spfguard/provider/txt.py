"""TXT values in presentation form, shared by every provider: quoting and unquoting character-strings
(RFC 1035 §5.1: ``"abc" "def"``, ``\\"`` and ``\\\\``, ``\\DDD`` — decimal in zone files and most APIs, octal in
Route 53's), and the zone of a name by longest suffix."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def quote(strings: Sequence[str]) -> str:
    """Character-strings as presentation text: ``"v=spf1 …" "… -all"``."""
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)


def _unescape(body: str, octal: bool) -> str:
    def one(match: re.Match) -> str:
        code = match.group(1)
        if code.isdigit():
            return chr(int(code, 8 if octal else 10))
        return code

    return re.sub(r"\\(\d{3}|.)", one, body)


def unquote(text: str, *, octal: bool = False) -> tuple[str, ...]:
    """``"abc" "def"`` -> ("abc", "def"); an unquoted value is one string as it is."""
    text = text or ""
    parts = _QUOTED.findall(text)
    if not parts or not text.lstrip().startswith('"'):
        return (text,)
    return tuple(_unescape(p, octal) for p in parts)


def zone_for(name: str, zones: Iterable[str]) -> str | None:
    """The zone (of ``zones``) whose name is the longest suffix of ``name``, or None."""
    name = name.rstrip(".").lower()
    best = None
    for zone in zones:
        zone = zone.rstrip(".").lower()
        if (name == zone or name.endswith("." + zone)) and (best is None or len(zone) > len(best)):
            best = zone
    return best
