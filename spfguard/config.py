"""``spfguard.toml``: settings for check, providers and monitor. Bad values name the key and what is allowed.

Secrets are given by reference — ``env:VAR`` or ``file:PATH`` — and resolved only when used, never printed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from spfguard.errors import UserError


class ConfigError(UserError):
    pass


def load_config(path: str | os.PathLike | None) -> dict[str, Any]:
    """The parsed file, or {} when no path is given."""
    if path is None:
        return {}
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config {path}: no such file") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config {path}: not valid TOML: {err}") from None
    except OSError as err:
        raise ConfigError(f"config {path}: {err.strerror}") from None


def section(config: dict[str, Any], name: str, source: str = "config") -> dict[str, Any]:
    value = config.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return value


def get_list(table: dict[str, Any], key: str, where: str, allowed: set[str] | None = None) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: must be a list of strings")
    if allowed is not None:
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise ConfigError(f"{where}.{key}: unknown value {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return value


def get_int(table: dict[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}.{key}: must be a whole number from {low} to {high}, not {value!r}")
    return value


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
        except OSError as err:
            raise ConfigError(f"{where}: cannot read {path}: {err.strerror}") from None
    return reference
