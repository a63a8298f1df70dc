"""The provider contract.

A provider reads and writes whole TXT record sets in the zones of one DNS host. It must:

* do no network I/O in ``__init__`` (settings are checked there; clients are built on first use);
* return every TXT value at a name — SPF and others alike (verification tokens) — joined from its
  character-strings (:meth:`Provider.read_txt`);
* apply the changes of a zone as **one** write (:meth:`Provider._apply`, after octoDNS's ``_apply(plan)``), using
  the API's atomic or batch form, and only when every name still holds exactly the values the plan was made
  from (compare-and-set): a conflict raises :class:`ConflictError` with nothing written;
* write values longer than 255 bytes as several character-strings (:meth:`Change.strings_for`);
* never put a secret in a message, a log line, an exception or a backup: secret settings arrive as
  :class:`Secret` (resolved from ``env:``/``file:`` references by :mod:`spfguard.provider.registry`).

The contract test suite ships as :mod:`spfguard.provider.testing`, so a provider written outside this repository
can run it.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from spfguard.errors import IncompleteError, ProviderError
from spfguard.redact import remember
from spfguard.spf.txt import split_strings
from spfguard.tables import check_keys, resolve_path, resolve_secret

__all__ = ["GUARANTEES", "Change", "ConflictError", "Provider", "ProviderError", "Secret", "SettingsError",
           "same_values"]

# What a provider's write promises when someone else edits the zone at the same time.
GUARANTEES = {
    "atomic compare-and-set": "the DNS host itself refuses the whole write when any name changed since it was read",
    "compare-and-set per name": "the DNS host itself refuses a name's write when that name changed since it was read; "
                                "the names of a plan are written one after another, and a refusal part-way undoes "
                                "the names already written",
    "atomic batch (read-compare before)": "the whole write is one all-or-nothing request; names are compared just "
                                          "before it, but an edit between that read and the request is not seen",
    "best-effort (read-compare before and after)": "names are compared before and read back after; the write itself "
                                                   "is unconditional, so an edit in between can be overwritten",
}


@dataclass(frozen=True)
class Change:
    name: str
    before: tuple[str, ...]  # every TXT value at the name when the plan was made (joined strings)
    after: tuple[str, ...]  # every TXT value wanted there (other values kept as they were)
    # how a value is to be split into character-strings, when it must be exactly as it was (rollback)
    layout: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), compare=False)

    def strings_for(self, value: str) -> list[str]:
        for known, strings in self.layout:
            if known == value:
                return list(strings)
        return split_strings(value)  # RFC 1035 §3.3: at most 255 octets per character-string

    @property
    def kind(self) -> str:
        return "create" if not self.before else "delete" if not self.after else "update"

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "before": list(self.before), "after": list(self.after)}


def same_values(a: Sequence[str], b: Sequence[str]) -> bool:
    return sorted(a) == sorted(b)


class SettingsError(ProviderError):
    """A provider's settings are missing or wrong (a configuration error: exit code 2, as for the config file)."""

    exit_code = 2


class ConflictError(ProviderError):
    """The live values are not the ones the plan was made from; nothing was written."""

    def __init__(self, name: str, expected: Sequence[str], actual: Sequence[str] | None = None,
                 advice: str = "run the command again to re-plan"):
        found = f"found {len(actual)} different" if actual is not None else "the server refused the compare-and-set"
        super().__init__(f"{name} changed since the plan was made (expected {len(expected)} TXT value(s), {found}); "
                         f"nothing was written — {advice}")
        self.name, self.expected, self.actual = name, list(expected), list(actual or [])


class Secret:
    """A resolved secret: usable by the provider (:meth:`reveal`), invisible everywhere else."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value
        remember(value)  # masked in any message that echoes it (spfguard.redact)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


class Provider(ABC):
    name: ClassVar[str] = ""
    settings_keys: ClassVar[tuple[str, ...]] = ()  # the keys [providers.NAME] may hold
    secret_keys: ClassVar[tuple[str, ...]] = ()  # of those, the secrets (references resolved by the registry)
    env_defaults: ClassVar[dict[str, str]] = {}  # setting -> environment variable used when it is not set
    path_keys: ClassVar[tuple[str, ...]] = ()  # of those, file paths (relative ones: from the config's folder)
    guarantee: ClassVar[str] = "best-effort (read-compare before and after)"  # one of GUARANTEES
    credentials: ClassVar[str] = ""  # where credentials come from, for `spfguard providers`

    def __init__(self, settings: Mapping[str, Any] | None = None):
        self.settings = resolve_settings(type(self), settings or {})
        self.log = logging.getLogger(f"spfguard.provider.{self.name}")
        verify = self.settings.get("verify", "nameservers")
        if "verify" in self.settings_keys and verify not in ("nameservers", "api"):
            raise SettingsError(f"{self.name}: verify must be 'nameservers' or 'api', not {verify!r}")

    @property
    def verify_through_api(self) -> bool:
        """``verify = "api"``: a write is read back through the provider's API instead of the zone's nameservers
        (which may be out of reach, e.g. from a CI runner)."""
        return self.settings.get("verify", "nameservers") == "api"

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> None:
        check_keys(dict(settings), f"[providers.{cls.name}]", cls.settings_keys)

    def secret(self, key: str) -> str | None:
        value = self.settings.get(key)
        return value.reveal() if isinstance(value, Secret) else None

    # ---- to implement ------------------------------------------------------------------------------

    @abstractmethod
    def read_txt(self, name: str) -> list[str]:
        """Every TXT value at ``name`` (character-strings joined), [] when there is none."""

    def read_txt_many(self, names: Sequence[str]) -> dict[str, list[str]]:
        """:meth:`read_txt` of several names; a provider that reads a whole zone at a time reads it once."""
        return {name: self.read_txt(name) for name in names}

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        """The TXT values at ``name`` as character-strings, exactly as stored (for byte-exact backups)."""
        return [tuple(split_strings(v)) for v in self.read_txt(name)]

    @abstractmethod
    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        """Write the changes of one zone, in order, as one write: refuse (ConflictError, nothing written) when a
        name does not hold ``change.before``."""

    def wait(self, changes: Sequence[Change], timeout: float = 120.0) -> None:  # noqa: B027 - optional hook
        """Block until the provider reports the changes live (e.g. Route53 INSYNC)."""

    def pending_publication(self) -> str | None:
        """What still has to happen before a write is live (a file to commit and sync), or None when it is."""
        return None

    def list_zones(self) -> list[str]:
        """The public zones the account holds (``spfguard inventory``)."""
        raise ProviderError(f"{self.name}: listing zones is not supported; write the domain list by hand")

    def authoritative(self, domain: str) -> list[str]:
        """Nameservers ("host" or "host:port") to verify through; [] to verify through :meth:`read_txt`."""
        return []

    def zone_of(self, name: str) -> str:
        return str(self.settings.get("zone", "")).rstrip(".")

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for backups and messages."""
        return {"provider": self.name}

    def __repr__(self) -> str:  # never the settings: they may hold secrets
        return f"{type(self).__name__}()"

    # ---- the contract, shared ------------------------------------------------------------------------

    def check(self, changes: Sequence[Change]) -> None:
        """Compare every name with the values the plan expects; raise before anything is written."""
        current = self.read_txt_many([c.name for c in changes])
        for change in changes:
            if not same_values(current[change.name], change.before):
                raise ConflictError(change.name, change.before, current[change.name])

    def read_back(self, changes: Sequence[Change], why: str = "another writer?") -> None:
        """After a write: every name holds what was asked, or :class:`IncompleteError` (written, not confirmed:
        exit 3)."""
        seen_at = self.read_txt_many([c.name for c in changes])
        for change in changes:
            seen = seen_at[change.name]
            if not same_values(seen, change.after):
                raise IncompleteError(f"{self.name}: written, but {change.name} reads back {len(seen)} other "
                                      f"value(s) ({why}): check it with `spfguard check`")

    def apply(self, changes: Sequence[Change]) -> None:
        """The changes grouped by zone (plan order kept: chained children, the apex, then deletions), one write
        per zone."""
        groups: dict[str, list[Change]] = {}
        for change in changes:
            groups.setdefault(self.zone_of(change.name), []).append(change)
        for zone, group in groups.items():
            self._apply(zone, group)
            # the audit trail of every DNS write: who wrote which names of which zone
            self.log.info("wrote zone %s: %s%s", zone, ", ".join(f"{c.name} ({c.kind})" for c in group),
                          f" (change {self.last_change_id})" if self.last_change_id else "",
                          extra={"fields": {"provider": self.name, "zone": zone, "names": [c.name for c in group],
                                            "change_id": self.last_change_id}})

    last_change_id: str | None = None  # set by _apply when the DNS host names the write (Route 53's change id …)


def resolve_settings(cls: type[Provider], settings: Mapping[str, Any], base: Path | None = None) -> dict[str, Any]:
    """A provider's settings with unknown keys refused, defaults from the environment filled in
    (``env_defaults``), path keys taken from ``base`` (the config's folder) and every secret reference
    (``env:VAR``, ``file:PATH``, or a literal) resolved into a :class:`Secret` — the one place secrets are read, so
    no provider does it itself. Settings already resolved pass through unchanged."""
    cls.check_settings(settings)
    resolved = dict(settings)
    for key, variable in cls.env_defaults.items():
        if resolved.get(key) in (None, "") and os.environ.get(variable):
            resolved[key] = f"env:{variable}" if key in cls.secret_keys else os.environ[variable]
    for key in cls.path_keys:
        if isinstance(resolved.get(key), str) and resolved[key]:
            resolved[key] = str(resolve_path(resolved[key], base))
    for key in cls.secret_keys:
        value = resolved.get(key)
        if value is not None and not isinstance(value, Secret):
            resolved[key] = Secret(resolve_secret(value, f"providers.{cls.name}.{key}"))
    return resolved
