"""``spfguard.toml``: settings for check, providers, monitor and alerts. Every key is checked: an unknown key or
table is an error naming it and the nearest valid one ("[chek]: did you mean [check]?"), a wrong type names
the key and the type expected.

Secrets are given by reference — ``env:VAR`` or ``file:PATH`` — and resolved only when used, never printed.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spfguard.errors import UserError
from spfguard.textfile import read_text

SETTINGS_TABLES = ("check", "providers", "monitor", "alerts")
CHECK_KEYS = ("expect", "warn_lookups", "nameservers", "timeout", "retries")


class ConfigError(UserError):
    pass


def load_toml(path: str | os.PathLike, what: str = "config") -> dict[str, Any]:
    path = Path(path)
    text = read_text(path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{what} {path}: not valid TOML: {err}") from None


def load_config(path: str | os.PathLike | None) -> dict[str, Any]:
    """spfguard.toml, parsed, with its tables checked (an unknown table is an error); {} when no path is given."""
    if path is None:
        return {}
    config = load_toml(path)
    check_keys(config, f"config {path}", SETTINGS_TABLES, tables=True)
    for name in SETTINGS_TABLES:
        section(config, name)
    return config


def nearest(name: str, choices: Iterable[str]) -> str | None:
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return match[0] if match else None


def check_keys(table: dict[str, Any], where: str, allowed: Iterable[str], *, tables: bool = False) -> None:
    """Every key of ``table`` must be one of ``allowed``; the error names the nearest (as [table] when the keys
    are tables)."""
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed:
            shown = f"[{key}]" if tables else key
            guess = nearest(key, allowed)
            hint = f": did you mean {f'[{guess}]' if tables else guess}?" if guess else \
                f" (known: {', '.join(allowed)})"
            raise ConfigError(f"{where}: unknown {'table' if tables else 'key'} {shown}{hint}")


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def section(config: dict[str, Any], name: str, source: str = "config") -> dict[str, Any]:
    value = config.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{name}] must be a table, not {_kind(value)}")
    return value


def get_str(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str | None:
    value = table.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}.{key}: expected a string, not {_kind(value)}")
    return value


def get_bool(table: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected true or false, not {_kind(value)}")
    return value


def get_list(table: dict[str, Any], key: str, where: str, allowed: Iterable[str] | None = None) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: expected a list of strings, not {_kind(value)}")
    if allowed is not None:
        allowed = tuple(allowed)
        for v in value:
            if v not in allowed:
                guess = nearest(v, allowed)
                hint = f"; did you mean {guess!r}?" if guess else ""
                raise ConfigError(f"{where}.{key}: unknown value {v!r}{hint} (allowed: {', '.join(sorted(allowed))})")
    return value


def get_int(table: dict[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}.{key}: expected a whole number from {low} to {high}, not {value!r}")
    return value


def get_number(table: dict[str, Any], key: str, where: str, default: float, low: float, high: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{where}.{key}: expected a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


@dataclass
class CheckSettings:
    expect: list[str] = field(default_factory=list)
    warn_lookups: int = 9
    nameservers: list[str] = field(default_factory=list)
    timeout: float = 2.0
    retries: int = 2


def parse_check(config: dict[str, Any]) -> CheckSettings:
    from spfguard.vendors.catalogue import load_catalogue

    table = section(config, "check")
    check_keys(table, "[check]", CHECK_KEYS)
    return CheckSettings(
        expect=get_list(table, "expect", "check", load_catalogue().platforms),
        warn_lookups=get_int(table, "warn_lookups", "check", 9, 1, 10),
        nameservers=get_list(table, "nameservers", "check"),
        timeout=get_number(table, "timeout", "check", 2.0, 0.05, 60),
        retries=get_int(table, "retries", "check", 2, 0, 10),
    )


def validate_settings(config: dict[str, Any], base: Path | None = None) -> None:
    """Every section of a loaded spfguard.toml, as the commands that use them would read it (``base``: the
    directory relative paths are taken from, the config file's own)."""
    from spfguard.monitor.settings import parse_alerts, parse_monitor
    from spfguard.provider.registry import check_settings

    parse_check(config)
    for name in section(config, "providers"):
        check_settings(name, section(section(config, "providers"), name, f"[providers.{name}]"))
    if "monitor" in config:
        parse_monitor(config, base=base)
    else:
        parse_alerts(config)


def resolve_secret(reference: str, where: str) -> str:
    """``env:VAR`` or ``file:PATH`` (a literal is accepted too). The value never appears in messages."""
    if not isinstance(reference, str):
        raise ConfigError(f"{where}: must be a string such as 'env:VARIABLE' or 'file:/path'")
    if reference.startswith("env:"):
        name = reference[4:]
        value = os.environ.get(name)
        if not value:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return value
    if reference.startswith("file:"):
        path = Path(reference[5:]).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{where}: cannot read {path}: {getattr(err, 'strerror', None) or 'not UTF-8'}") \
                from None
    return reference
