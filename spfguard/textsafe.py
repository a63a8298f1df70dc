"""Text from DNS or from a server is shown with its control characters escaped (ESC, CR, BEL, …), and with the
characters that make text lie — Unicode bidirectional controls (``\u202e`` shows "moc.elgoog" as "google.com") and
zero-width characters — escaped too: a hostile TXT record in a vendor's include, or a forged DMARC report, must not
rewrite the user's screen, a cron mail, an alert or a report page. JSON keeps exact values; every text output goes
through :func:`safe`. CSV cells go through :func:`csv_cell` as well (OWASP's CSV-injection guidance)."""

from __future__ import annotations

import os
import re
import sys
from typing import TextIO

# Unicode's bidirectional controls (LRM, RLM, ALM; embeddings and overrides LRE..RLO; isolates LRI..PDI) and its
# invisible characters (zero-width space, joiners, word joiner, invisible operators, the BOM as a character)
_LYING = "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
# C0 controls, DEL and C1 controls; in a one-line field newline and tab are escaped too
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_LYING}]")
_CONTROL_KEEP_LINES = re.compile(f"[\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f{_LYING}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting with these as a formula


def _escape(match: re.Match) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def safe(text: object) -> str:
    """One line, every control character visible."""
    return _CONTROL.sub(_escape, str(text))


def safe_lines(text: object) -> str:
    """Several lines: newlines kept, every other control character visible."""
    return _CONTROL_KEEP_LINES.sub(_escape, str(text))


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet cannot run: text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading ``'`` (OWASP, "CSV Injection"), after control characters are escaped. Numbers stay
    numbers (``-1`` is data)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(_FORMULA):
        return "'" + safe(text)
    return safe(text)


def use_color(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    stream = stream or sys.stdout
    return bool(stream.isatty()) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
