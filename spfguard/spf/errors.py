"""Errors raised by the SPF parser (results such as permerror are values, not exceptions)."""

from __future__ import annotations


class SpfSyntaxError(ValueError):
    """A record or macro-string that does not follow RFC 7208 §12; carries the 0-based position."""

    def __init__(self, message: str, position: int = 0):
        super().__init__(message)
        self.message = message
        self.position = position

    def shifted(self, offset: int) -> SpfSyntaxError:
        return SpfSyntaxError(self.message, self.position + offset)

    def __str__(self) -> str:
        return f"{self.message} (at character {self.position + 1})"
