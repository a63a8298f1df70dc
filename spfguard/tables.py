"""Typed reads of TOML tables, for every settings file spfguard reads (spfguard.toml, a connector file, a
catalogue file): an unknown key names the nearest valid one ("[chek]: did you mean [check]?"), a wrong type names
the key and the type expected. Secrets are given by reference (``env:VAR``, ``file:PATH``) and resolved only when
used, never printed. The lowest floor of the house: it imports nothing of spfguard but errors and textfile."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spfguard.errors import UserError
from spfguard.textfile import read_text


class ConfigError(UserError):
    pass


def load_toml(path: str | os.PathLike, what: str = "config") -> dict[str, Any]:
    path = Path(path)
    text = read_text(path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{what} {path}: not valid TOML: {err}") from None


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


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: Any, where: str, minimum: float = 0.0) -> float:
    """'7d', '12h', '30m', '90s' -> seconds; ``minimum`` refuses values below a sane floor."""
    match = _DURATION.fullmatch(str(text).strip().lower())
    if not match:
        raise UserError(f"{where}: {text!r} is not a duration such as 7d, 12h, 30m or 90s")
    seconds = float(match.group(1)) * UNITS[match.group(2)]
    if seconds < minimum:
        raise UserError(f"{where}: {text!r} is too short (at least {minimum:g} seconds)")
    return seconds


def parse_url(value: Any, where: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """A URL that urllib can send as is: ASCII, no spaces, a host, one of ``schemes``."""
    import urllib.parse

    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a URL string")
    bad = next((c for c in value if ord(c) <= 0x20 or ord(c) >= 0x7f), None)
    if bad is not None:
        raise ConfigError(f"{where}: {value!r} is not a valid URL: the character {bad!r} must be "
                          "percent-encoded (a placeholder left in?)")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        kinds = "http(s)" if schemes == ("http", "https") else "/".join(schemes)
        raise ConfigError(f"{where}: {value!r} is not an {kinds} URL with a host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{where}: {value!r} has an invalid port") from None
    return value


def resolve_path(text: str, base: Path | None) -> Path:
    """A path from a settings file: ``~`` expanded, a relative path taken from ``base`` (the file's folder)."""
    path = Path(os.path.expanduser(text))
    return path if path.is_absolute() or base is None else base / path


def xdg_state_home() -> Path:
    """$XDG_STATE_HOME/spfguard (default ~/.local/state/spfguard): backups, the monitor's default store."""
    return Path(os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")) / "spfguard"


def xdg_cache_home() -> Path:
    """$XDG_CACHE_HOME/spfguard (default ~/.cache/spfguard): downloaded vendor data."""
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "spfguard"


def xdg_config_home() -> Path:
    """$XDG_CONFIG_HOME/spfguard (default ~/.config/spfguard): user files such as catalogue additions."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")) / "spfguard"
