"""Providers are discovered through the entry-point group ``spfguard.providers``; only the chosen one is
imported (so ``spfguard --help`` never imports a provider SDK)."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from spfguard.provider.base import Provider, ProviderError

GROUP = "spfguard.providers"


def available() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def load_provider(name: str, settings: Mapping[str, Any] | None = None) -> Provider:
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(available()) or "none installed"
        raise ProviderError(f"unknown provider {name!r} (installed: {known})")
    try:
        cls = matches[0].load()
    except ImportError as err:
        raise ProviderError(f"provider {name!r} is installed but cannot be imported: {err}") from None
    return cls(settings or {})
