"""Providers are discovered through the entry-point group ``spfguard.providers``; only the chosen one is
imported (so ``spfguard --help`` never imports a provider SDK). Providers that ship as their own distribution
are named here, so that asking for one that is not installed says what to install."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

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


def plugin_versions() -> list[tuple[str, str, str]]:
    """(provider, distribution, version) of every installed provider, the built-in ones included."""
    rows = []
    for ep in entry_points(group=GROUP):
        dist = ep.dist
        rows.append((ep.name, dist.name if dist else "?", dist.version if dist else "?"))
    return sorted(set(rows))


def install_hint(name: str) -> str:
    """The command that installs provider ``name`` from where spfguard itself came from: the clone's
    ``providers/NAME`` when spfguard was installed from a clone (or a wheel built in one), else the distribution
    name (on a package index from a future release)."""
    package = DISTRIBUTIONS[name]
    tree = source_tree()
    if tree is not None and (tree / "providers" / name / "pyproject.toml").is_file():
        target = shlex.quote(str(tree / "providers" / name))
        return (f"install {package} from {target}: `pipx inject spfguard {target}` (or `pip install {target}` in "
                "spfguard's environment)")
    return f"install {package}: `pipx inject spfguard {package}` (or `pip install {package}` in spfguard's environment)"


def source_tree() -> Path | None:
    """The clone spfguard was installed from, as its installer recorded it (PEP 610 ``direct_url.json``: a folder,
    editable or not, or a wheel file in the clone's ``dist/``); None when it came from an index."""
    try:
        data = json.loads(distribution("spfguard").read_text("direct_url.json") or "{}")
        url = urlparse(data.get("url", ""))
    except (PackageNotFoundError, ValueError, AttributeError):
        return None
    if url.scheme != "file":
        return None
    path = Path(url2pathname(url.path))
    for folder in (path, path.parent, path.parent.parent):  # the folder, or dist/ and the clone above a wheel
        if (folder / "providers").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    return None


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
