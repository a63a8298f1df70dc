"""``inventory`` and ``providers``: the zones a DNS host's account holds, as the monitor's fleet list; the
providers installed here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spfguard.config import Config
from spfguard.domains import DomainEntry, load_domain_list


@dataclass
class Inventory:
    provider: str
    entries: list[DomainEntry]
    new: int = 0
    gone: list[str] = field(default_factory=list)  # zones in the old list no longer in the account


def inventory(provider_name: str, config: Config, existing: Path | None = None, tenant: str | None = None) -> Inventory:
    """The zones of the account; an existing list keeps its tenants, platforms and tags (zones that are gone are
    dropped and named)."""
    from spfguard.app.fix import open_provider

    zones = open_provider(provider_name, config).list_zones()
    known: dict[str, DomainEntry] = {}
    if existing is not None and existing.exists():
        known = {e.name: e for e in load_domain_list(existing)}
    entries = [known.get(zone) or DomainEntry(zone, tenant, [], provider_name) for zone in zones]
    for entry in entries:
        entry.provider = entry.provider or provider_name
    return Inventory(provider_name, entries, len([z for z in zones if z not in known]),
                     sorted(set(known) - set(zones)))


@dataclass
class InstalledProvider:
    name: str
    installed: bool
    guarantee: str = ""
    settings: list[str] = field(default_factory=list)
    credentials: str = ""
    error: str | None = None  # installed but cannot be imported
    install: str | None = None  # how to install it

    def to_json(self) -> dict:
        if not self.installed:
            return {"provider": self.name, "installed": False, "install": self.install}
        if self.error is not None:
            return {"provider": self.name, "installed": True, "error": self.error}
        return {"provider": self.name, "installed": True, "guarantee": self.guarantee, "settings": self.settings,
                "credentials": self.credentials}


def providers() -> list[InstalledProvider]:
    from spfguard.provider.registry import DISTRIBUTIONS, available, install_hint, provider_class

    rows = []
    installed = available()
    for name in installed:
        try:
            cls = provider_class(name)
        except Exception as err:  # noqa: BLE001 - a broken plugin is listed, not fatal
            rows.append(InstalledProvider(name, True, error=str(err)))
            continue
        rows.append(InstalledProvider(name, True, cls.guarantee, list(cls.settings_keys), cls.credentials))
    rows += [InstalledProvider(name, False, install=install_hint(name)) for name in sorted(DISTRIBUTIONS)
             if name not in installed]
    return rows
