"""The provider contract.

A provider reads and writes whole TXT record sets in one DNS zone. It must:

* do no network I/O in ``__init__`` (settings are checked there; clients are built on first use);
* return every TXT value at a name — SPF and others alike (verification tokens) — joined from its
  character-strings (:meth:`read_txt`);
* apply changes only when every name still holds exactly the values the plan was made from
  (compare-and-set): :meth:`apply` checks all names before writing any, and each write is itself
  conditional where the backend allows it;
* write values longer than 255 bytes as several character-strings;
* never put a secret in a message, a log line, an exception or a backup (:meth:`describe`).

Implementations override :meth:`read_txt`, :meth:`_write` and, where they can, :meth:`wait`,
:meth:`authoritative` and :meth:`zone_of`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from spfguard.errors import ProviderError
from spfguard.fix.plan import Change
from spfguard.spf.txt import split_strings

__all__ = ["Change", "ConflictError", "Provider", "ProviderError", "same_values"]


class ConflictError(ProviderError):
    """The live values are not the ones the plan was made from; nothing was written."""

    def __init__(self, name: str, expected: Sequence[str], actual: Sequence[str]):
        super().__init__(f"{name} changed since the plan was made (expected {len(expected)} TXT value(s), found "
                         f"{len(actual)} different); nothing was written — run the command again to re-plan")
        self.name, self.expected, self.actual = name, list(expected), list(actual)


def same_values(a: Sequence[str], b: Sequence[str]) -> bool:
    return sorted(a) == sorted(b)


class Provider(ABC):
    name: ClassVar[str] = ""
    settings_keys: ClassVar[tuple[str, ...]] = ()  # the keys [providers.NAME] may hold
    guarantee: ClassVar[str] = "read-compare"  # atomic compare-and-set | atomic batch | read-compare
    credentials: ClassVar[str] = ""  # where credentials come from, for `spfguard providers`

    def __init__(self, settings: Mapping[str, Any] | None = None):
        self.check_settings(settings or {})
        self.settings = dict(settings or {})

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> None:
        from spfguard.config import check_keys

        check_keys(dict(settings), f"[providers.{cls.name}]", cls.settings_keys)

    # ---- to implement ------------------------------------------------------------------------------

    @abstractmethod
    def read_txt(self, name: str) -> list[str]:
        """Every TXT value at ``name`` (character-strings joined), [] when there is none."""

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        """The TXT values at ``name`` as character-strings, exactly as stored (for byte-exact backups)."""
        return [tuple(split_strings(v)) for v in self.read_txt(name)]

    @abstractmethod
    def _write(self, change: Change) -> None:
        """Replace the TXT set at ``change.name`` (currently ``change.before``) by ``change.after``."""

    def wait(self, changes: Sequence[Change], timeout: float = 120.0) -> None:  # noqa: B027 - optional hook
        """Block until the provider reports the changes live (e.g. Route53 INSYNC)."""

    def authoritative(self, domain: str) -> list[str]:
        """Nameservers ("host" or "host:port") to verify through; [] to verify through :meth:`read_txt`."""
        return []

    def zone_of(self, name: str) -> str:
        return self.settings.get("zone", "")

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for backups and messages."""
        return {"provider": self.name}

    # ---- the contract, shared ------------------------------------------------------------------------

    def check(self, changes: Sequence[Change]) -> None:
        """Compare every name with the values the plan expects; raise before anything is written."""
        for change in changes:
            current = self.read_txt(change.name)
            if not same_values(current, change.before):
                raise ConflictError(change.name, change.before, current)

    def apply(self, changes: Sequence[Change]) -> None:
        self.check(changes)
        for change in changes:  # in plan order: chained children first, the apex, then deletions
            self._write(change)
