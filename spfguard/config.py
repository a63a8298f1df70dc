"""``spfguard.toml``, loaded once into one typed :class:`Config` that every command receives.

Every table is checked: an unknown key or table is an error naming it and the nearest valid one ("[chek]: did
you mean [check]?"), a wrong type names the key and the type expected. Every relative path in the file (the
monitor's ``state`` and ``domains_file``, a provider's ``path`` keys) is taken from the file's own folder —
here, in one place — so ``fix --apply`` and the monitor agree on where the state store is whatever folder they
run from. Secrets are given by reference (``env:VAR``, ``file:PATH``) and resolved only when used, never printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spfguard.errors import UserError
from spfguard.tables import check_keys, get_int, get_list, get_number, load_toml, resolve_path, section
from spfguard.vendors.catalogue import Catalogue, load_catalogue, use_files

if TYPE_CHECKING:  # the monitor's and the mailbox's tables are parsed by their own modules, imported when read
    from spfguard.monitor.location import StateLocation
    from spfguard.monitor.settings import AlertSettings, MonitorSettings
    from spfguard.senders.mailbox import DmarcSettings

SETTINGS_TABLES = ("check", "providers", "monitor", "alerts", "catalogue", "dmarc")
CHECK_KEYS = ("expect", "warn_lookups", "nameservers", "timeout", "retries")


@dataclass
class CheckSettings:
    expect: list[str] = field(default_factory=list)
    warn_lookups: int = 9
    nameservers: list[str] = field(default_factory=list)
    timeout: float = 2.0
    retries: int = 2


@dataclass
class Config:
    path: Path | None = None  # the file, when one was given
    base: Path | None = None  # the folder relative paths in it are taken from: the file's own
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    check: CheckSettings = field(default_factory=CheckSettings)

    @cached_property
    def alerts(self) -> AlertSettings:
        """``[alerts]``: where the monitor's events go (none without the table)."""
        from spfguard.monitor.settings import AlertSettings, parse_alerts

        return parse_alerts(self.raw) if "alerts" in self.raw else AlertSettings()

    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue()

    @cached_property
    def monitor(self) -> MonitorSettings | None:
        """``[monitor]``, parsed when first asked for (a domain list can be long); None without the table."""
        if "monitor" not in self.raw:
            return None
        from spfguard.monitor.settings import parse_monitor

        return parse_monitor(self.raw, self.base, self.catalogue.platforms)

    @cached_property
    def dmarc(self) -> DmarcSettings | None:
        """``[dmarc]``: the rua= mailbox(es) the monitor reads reports from; None without the table."""
        if "dmarc" not in self.raw:
            return None
        from spfguard.senders.mailbox import parse_dmarc

        return parse_dmarc(self.raw, self.base)

    def require_monitor(self) -> MonitorSettings:
        if self.path is None and not self.raw:
            raise UserError("--config FILE is required (see examples/spfguard.toml for a [monitor] example)")
        if self.monitor is None:
            raise UserError(f"config {self.path}: no [monitor] table (see examples/spfguard.toml)")
        return self.monitor

    @property
    def state(self) -> StateLocation:
        """The monitor's store: ``[monitor] state`` (from the config's folder), else the default one."""
        from spfguard.monitor.location import default_state

        return self.monitor.state if self.monitor is not None else default_state()

    @property
    def providers(self) -> dict[str, dict[str, Any]]:
        return section(self.raw, "providers")

    def provider_table(self, name: str) -> dict[str, Any]:
        """``[providers.NAME]`` as written ({} when absent); the registry checks and resolves it."""
        return section(self.providers, name, f"[providers.{name}]")


def load_config(path: str | os.PathLike | None) -> Config:
    """spfguard.toml, parsed and checked; an empty configuration when no path is given."""
    if path is None:
        return Config()
    path = Path(path)
    return parse_config(load_toml(path), path)


def parse_config(raw: dict[str, Any], path: Path | None = None, base: Path | None = None) -> Config:
    """A parsed TOML document as a :class:`Config` (``base``: the folder relative paths are taken from; default:
    the file's)."""
    check_keys(raw, f"config {path or ''}".rstrip(), SETTINGS_TABLES, tables=True)
    for name in SETTINGS_TABLES:
        section(raw, name)
    config = Config(path, base or (path.parent if path is not None else None), raw)
    parse_catalogue(raw, config.base)
    config.check = parse_check(raw, config.catalogue)
    if "alerts" in raw:
        _ = config.alerts  # checked now, as [dmarc] below
    _ = config.dmarc  # checked now: a wrong key is one line before anything runs
    return config


def parse_catalogue(raw: dict[str, Any], base: Path | None) -> None:
    """``[catalogue] files``: the user's catalogue files (the same schema as the built-in one), read after it and
    after the XDG folder's (``~/.config/spfguard/catalogue.toml``, ``catalogue.d/*.toml``)."""
    table = section(raw, "catalogue")
    check_keys(table, "[catalogue]", ("files",))
    files = [resolve_path(f, base) for f in get_list(table, "files", "catalogue")]
    for path in files:
        if not path.is_file():
            raise UserError(f"[catalogue] files: {path} is not a file")
    use_files(files)
    try:
        load_catalogue()  # validated now: a broken file is one line before any command runs
    except UserError:
        use_files(())
        raise


def parse_check(raw: dict[str, Any], catalogue: Catalogue) -> CheckSettings:
    table = section(raw, "check")
    check_keys(table, "[check]", CHECK_KEYS)
    return CheckSettings(
        expect=get_list(table, "expect", "check", catalogue.platforms),
        warn_lookups=get_int(table, "warn_lookups", "check", 9, 1, 10),
        nameservers=get_list(table, "nameservers", "check"),
        timeout=get_number(table, "timeout", "check", 2.0, 0.05, 60),
        retries=get_int(table, "retries", "check", 2, 0, 10),
    )


def validate_settings(raw: dict[str, Any], base: Path | None = None) -> Config:
    """Every table of a parsed spfguard.toml as the commands that use them would read it — the monitor's domains
    and every installed provider's settings included (the tests run it on the examples)."""
    from spfguard.provider.registry import check_settings

    config = parse_config(raw, base=base)
    for name in config.providers:
        check_settings(name, config.provider_table(name))
    _ = config.monitor
    _ = config.dmarc
    return config
