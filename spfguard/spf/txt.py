"""TXT character-strings and SPF record selection (RFC 7208 §3.3, §4.5)."""

from __future__ import annotations

from dataclasses import dataclass

from spfguard.spf.parser import is_spf_record

MAX_STRING = 255  # RFC 1035 §3.3: a <character-string> holds at most 255 octets


def join_strings(strings: tuple[bytes, ...]) -> bytes:
    """RFC 7208 §3.3: the character-strings of one TXT RR are concatenated with no separator."""
    return b"".join(strings)


def decode(data: bytes) -> str:
    """Decode a TXT value. Undecodable bytes become U+FFFD, which the SPF parser then reports."""
    return data.decode("utf-8", errors="replace")


def split_strings(text: str, size: int = MAX_STRING) -> list[str]:
    """Split a TXT value into character-strings of at most ``size`` bytes, never inside a UTF-8 character."""
    parts: list[str] = []
    current: list[str] = []
    length = 0
    for ch in text:
        width = len(ch.encode("utf-8"))
        if length + width > size:
            parts.append("".join(current))
            current, length = [], 0
        current.append(ch)
        length += width
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class Selection:
    """The SPF record found among a name's TXT records."""

    record: str | None  # the one v=spf1 record (None when there is none or more than one)
    candidates: tuple[str, ...]  # every v=spf1 record at the name

    @property
    def multiple(self) -> bool:
        return len(self.candidates) > 1


def select_record(rrs: tuple[tuple[bytes, ...], ...]) -> Selection:
    """RFC 7208 §4.5: keep the TXT RRs that begin with "v=spf1" (then space or end); more than one is an error."""
    candidates = tuple(
        text for text in (decode(join_strings(rr)) for rr in rrs) if is_spf_record(text)
    )
    return Selection(candidates[0] if len(candidates) == 1 else None, candidates)
