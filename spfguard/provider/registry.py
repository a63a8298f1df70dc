"""Providers are discovered through the entry-point group ``spfguard.providers``; only the chosen one is
imported (so ``spfguard --help`` never imports a provider SDK). Providers that ship as their own distribution
are named here, so that asking for one that is not installed says what to install."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from spfguard.config import nearest, resolve_secret
from spfguard.errors import UserError
from spfguard.provider.base import Provider, ProviderError, Secret

GROUP = "spfguard.providers"
# provider name -> the distribution that provides it (certbot-style plugins)
DISTRIBUTIONS = {
    "cloudflare": "spfguard-cloudflare",
    "route53": "spfguard-route53",
    "powerdns": "spfguard-powerdns",
    "azure": "spfguard-azure",
    "gcloud": "spfguard-gcloud",
    "octodns": "spfguard-octodns",
}


def available() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def install_hint(name: str) -> str:
    package = DISTRIBUTIONS[name]
    return f"install {package}: `pipx inject spfguard {package}` (or `pip install {package}` in spfguard's environment)"


def provider_class(name: str) -> type[Provider]:
    if not isinstance(name, str) or not name.strip():
        raise UserError("--provider: empty name (installed: " + (", ".join(available()) or "none") + ")")
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        installed = available()
        if name in DISTRIBUTIONS:
            raise UserError(f"provider {name!r} is not installed: {install_hint(name)}")
        guess = nearest(name, [*installed, *DISTRIBUTIONS])
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise UserError(f"unknown provider {name!r}{hint} (installed: {', '.join(installed) or 'none'})")
    try:
        return matches[0].load()
    except ImportError as err:
        raise ProviderError(f"provider {name!r} is installed but cannot be imported: {err}") from None


def load_provider(name: str, settings: Mapping[str, Any] | None = None) -> Provider:
    return provider_class(name)(settings or {})


def resolve_settings(cls: type[Provider], settings: Mapping[str, Any]) -> dict[str, Any]:
    """A provider's settings with unknown keys refused, defaults from the environment filled in
    (``env_defaults``), and every secret reference (``env:VAR``, ``file:PATH``, or a literal) resolved into a
    :class:`Secret` — the one place secrets are read, so no provider does it itself."""
    cls.check_settings(settings)
    resolved = dict(settings)
    for key, variable in cls.env_defaults.items():
        if resolved.get(key) in (None, "") and os.environ.get(variable):
            resolved[key] = f"env:{variable}" if key in cls.secret_keys else os.environ[variable]
    for key in cls.secret_keys:
        value = resolved.get(key)
        if value is not None and not isinstance(value, Secret):
            resolved[key] = Secret(resolve_secret(value, f"providers.{cls.name}.{key}"))
    return resolved


def check_settings(name: str, settings: Mapping[str, Any]) -> None:
    """The keys of ``[providers.NAME]``: checked by the provider when it is installed (a provider named here but
    not installed is fine in a config file; an unknown name is a typo)."""
    if name not in available() and name in DISTRIBUTIONS:
        return
    provider_class(name).check_settings(settings)
