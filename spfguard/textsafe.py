"""Text from DNS or from a server is shown with its control characters escaped (ESC, CR, BEL, …): a hostile TXT
record in a vendor's include must not rewrite the user's screen, a cron mail or an alert. JSON keeps exact
values; every text output goes through :func:`safe`."""

from __future__ import annotations

import os
import re
import sys
from typing import TextIO

# C0 controls, DEL and C1 controls; in a one-line field newline and tab are escaped too
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_KEEP_LINES = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def _escape(match: re.Match) -> str:
    ch = match.group()
    return _NAMED.get(ch, f"\\x{ord(ch):02x}")


def safe(text: object) -> str:
    """One line, every control character visible."""
    return _CONTROL.sub(_escape, str(text))


def safe_lines(text: object) -> str:
    """Several lines: newlines kept, every other control character visible."""
    return _CONTROL_KEEP_LINES.sub(_escape, str(text))


def use_color(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    stream = stream or sys.stdout
    return bool(stream.isatty()) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
