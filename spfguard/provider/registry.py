"""Providers are discovered through the entry-point group ``spfguard.providers``; only the chosen one is
imported (so ``spfguard --help`` never imports a provider SDK). Providers that ship as their own distribution
are named here, so that asking for one that is not installed says what to install."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from spfguard.errors import UserError
from spfguard.provider.base import Provider, ProviderError, resolve_settings
from spfguard.tables import nearest

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


def load_provider(name: str, settings: Mapping[str, Any] | None = None, base: Path | None = None) -> Provider:
    """The provider ``name``, built from its ``[providers.NAME]`` settings, resolved first (secrets, environment
    defaults, paths from ``base``)."""
    cls = provider_class(name)
    return cls(resolve_settings(cls, settings or {}, base))


def check_settings(name: str, settings: Mapping[str, Any]) -> None:
    """The keys of ``[providers.NAME]``: checked by the provider when it is installed (a provider named here but
    not installed is fine in a config file; an unknown name is a typo)."""
    if name not in available() and name in DISTRIBUTIONS:
        return
    provider_class(name).check_settings(settings)
