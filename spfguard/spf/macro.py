"""Macro-strings (RFC 7208 §7): tokenising, validation and expansion.

A macro-string is kept as a tuple of tokens so that it can be rendered back exactly as written and
expanded many times (once per evaluation) without re-parsing.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from spfguard.spf.errors import SpfSyntaxError

# RFC 7208 §7.1: macro-letter = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
MACRO_LETTERS = frozenset("slodiphcrtv")
# RFC 7208 §7.2: "c", "r" and "t" are allowed only in "exp" text.
EXP_ONLY_LETTERS = frozenset("crt")
ESCAPES = {"%": "%", "_": " ", "-": "%20"}  # RFC 7208 §7.1: "%%", "%_", "%-"
# RFC 3986 unreserved characters stay as they are when an upper-case macro letter asks for URL escaping.
_UNRESERVED = "-._~"


@dataclass(frozen=True)
class Literal:
    text: str

    def render(self) -> str:
        return self.text


@dataclass(frozen=True)
class Escape:
    code: str  # "%", "_" or "-"

    def render(self) -> str:
        return "%" + self.code


@dataclass(frozen=True)
class Macro:
    letter: str  # as written: upper case means "URL-escape the result" (§7.3)
    digits: int | None
    reverse: bool
    delimiters: str

    def render(self) -> str:
        digits = "" if self.digits is None else str(self.digits)
        return "%{" + self.letter + digits + ("r" if self.reverse else "") + self.delimiters + "}"


Token = Literal | Escape | Macro
_MACRO_BODY = re.compile(r"([A-Za-z])(\d*)([rR]?)([.\-+,/_=]*)\}")


def tokenize(text: str, *, exp: bool = False, offset: int = 0) -> tuple[Token, ...]:
    """Split a macro-string (or, with ``exp=True``, an explain-string) into tokens.

    Raises :class:`SpfSyntaxError` with the position (``offset`` + index) of the first problem.
    """
    tokens: list[Token] = []
    literal: list[str] = []
    i = 0

    def flush() -> None:
        if literal:
            tokens.append(Literal("".join(literal)))
            literal.clear()

    while i < len(text):
        ch = text[i]
        if ch == "%":
            nxt = text[i + 1 : i + 2]
            if nxt in ESCAPES:
                flush()
                tokens.append(Escape(nxt))
                i += 2
                continue
            if nxt != "{":
                shown = repr(nxt) if nxt else "end of text"
                raise SpfSyntaxError(
                    f"'%' must start a macro ('%{{…}}', '%%', '%_' or '%-'), found {shown} after it",
                    offset + i,
                )
            m = _MACRO_BODY.match(text, i + 2)
            if not m:
                raise SpfSyntaxError("malformed macro: expected '%{letter[digits][r][delimiters]}'", offset + i)
            letter, digits, reverse, delimiters = m.groups()
            if letter.lower() not in MACRO_LETTERS:
                raise SpfSyntaxError(f"unknown macro letter {letter!r}", offset + i + 2)
            if not exp and letter.lower() in EXP_ONLY_LETTERS:
                raise SpfSyntaxError(f"macro letter {letter!r} is allowed only in exp= text (RFC 7208 §7.2)",
                                     offset + i + 2)
            if digits and int(digits) == 0:
                raise SpfSyntaxError("macro digit transformer must be non-zero (RFC 7208 §7.3)", offset + i + 3)
            flush()
            tokens.append(Macro(letter, int(digits) if digits else None, bool(reverse), delimiters))
            i = m.end()
            continue
        if ch == " " and exp:
            literal.append(ch)
        elif not ("\x21" <= ch <= "\x7e"):
            what = "space" if ch == " " else ("non-ASCII character" if ord(ch) > 0x7E else "control character")
            raise SpfSyntaxError(f"{what} {ch!r} is not allowed here", offset + i)
        else:
            literal.append(ch)
        i += 1
    flush()
    return tuple(tokens)


def render(tokens: tuple[Token, ...]) -> str:
    return "".join(t.render() for t in tokens)


def has_macros(tokens: tuple[Token, ...]) -> bool:
    return any(isinstance(t, Macro) for t in tokens)


@dataclass(frozen=True)
class MacroContext:
    """What the macros of one evaluation expand to (RFC 7208 §7.2)."""

    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    sender: str  # full <sender>, "postmaster@…" already applied
    domain: str  # <domain>: the current domain, changes with include/redirect (RFC 7208 §7.2 "d")
    helo: str
    receiver: str = "unknown"
    timestamp: int = 0
    # The letter case of an IPv6 client address as it was given ("CAFE:BABE::1"): %{i} keeps it.
    upper_hex: bool = False

    @property
    def local_part(self) -> str:
        return self.sender.rpartition("@")[0]

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


def _ip_macro(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, upper_hex: bool) -> str:
    if ip.version == 4:
        return str(ip)
    nibbles = ip.exploded.replace(":", "")
    return ".".join(nibbles.upper() if upper_hex else nibbles)  # RFC 7208 §7.3: dot-format nibbles


def _transform(value: str, macro: Macro) -> str:
    # RFC 7208 §7.3: split on the delimiters (default "."), optionally reverse, keep the right-most N parts,
    # and join with ".".
    delimiters = macro.delimiters or "."
    parts = re.split("[" + re.escape(delimiters) + "]", value)
    if macro.reverse:
        parts.reverse()
    if macro.digits is not None:
        parts = parts[-macro.digits :]
    result = ".".join(parts)
    if macro.letter.isupper():
        result = urllib.parse.quote(result, safe=_UNRESERVED)
    return result


def expand_static(tokens: tuple[Token, ...], domain: str) -> str | None:
    """The expansion of a macro-string whose only macro letter is ``d`` — the current domain, which a walk
    of the tree knows without a message (RFC 7208 §7.2) — or None when it depends on the message."""
    out: list[str] = []
    for token in tokens:
        if isinstance(token, Macro):
            if token.letter.lower() != "d":
                return None
            out.append(_transform(domain, token))
        else:
            out.append(ESCAPES[token.code] if isinstance(token, Escape) else token.text)
    return "".join(out)


async def expand(
    tokens: tuple[Token, ...],
    ctx: MacroContext,
    validated_name: Callable[[], Awaitable[str]] | None = None,
    steps: list[tuple[str, str]] | None = None,
) -> str:
    """Expand tokens. ``validated_name`` computes ``%{p}`` (it needs DNS) and is called at most once. ``steps``,
    when given, receives each macro as written and what it expanded to (for ``eval --trace``)."""
    out: list[str] = []
    p_value: str | None = None
    for token in tokens:
        if isinstance(token, Literal):
            out.append(token.text)
        elif isinstance(token, Escape):
            out.append(ESCAPES[token.code])
        else:
            letter = token.letter.lower()
            if letter == "p":
                if p_value is None:
                    p_value = await validated_name() if validated_name else "unknown"
                value = p_value
            else:
                value = {
                    "s": lambda: ctx.sender,
                    "l": lambda: ctx.local_part,
                    "o": lambda: ctx.sender_domain,
                    "d": lambda: ctx.domain,
                    "i": lambda: _ip_macro(ctx.ip, ctx.upper_hex),
                    "v": lambda: "in-addr" if ctx.ip.version == 4 else "ip6",
                    "h": lambda: ctx.helo,
                    "c": lambda: str(ctx.ip),
                    "r": lambda: ctx.receiver,
                    "t": lambda: str(ctx.timestamp),
                }[letter]()
            out.append(_transform(value, token))
            if steps is not None:
                steps.append((token.render(), out[-1]))
    return "".join(out)
