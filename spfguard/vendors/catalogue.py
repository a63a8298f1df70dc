"""The data-driven sender catalogue (``catalogue.toml``) and the dated table of retired ranges (``retired.tsv``).

Users extend it without editing the package: files of the same schema in the XDG config folder
(``~/.config/spfguard/catalogue.toml`` and ``catalogue.d/*.toml``) and the config's ``[catalogue] files`` are read
after the built-in one (a platform of the same name replaces the built-in one); each platform remembers the file
it came from. Every file is validated, each problem named with its file and line.

An include is a name (``spf.protection.outlook.com``), a pattern (``*.spf0?.hubspotemail.net``: one include per
customer) or a macro template (``%{ir}.%{v}.%{d}.spf.has.pphosted.com``: the name depends on each message, RFC
7208 §7). Patterns and templates are recognised in records; their sender ranges cannot be listed ahead of a
message, so coverage is "the include is there" and attribution of a source is by its reverse-DNS name.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from spfguard.errors import UserError
from spfguard.tables import nearest, xdg_config_home
from spfguard.textfile import read_text

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Platform:
    name: str
    display: str
    include: str
    owner: str = ""
    aliases: tuple[str, ...] = ()
    endpoints: str | None = None  # Microsoft 365 endpoint web service instance
    mx: tuple[str, ...] = ()  # patterns of its inbound mail hosts
    ptr: tuple[str, ...] = ()  # patterns of its outbound servers' reverse-DNS names
    source: str = ""  # where the platform documents its include
    role: str | None = None  # "exchange-online": the platform whose outbound connector spfguard plans
    allowlist: str | None = None  # the [allowlists] form its console takes Exchange Online's ranges in
    endpoints_name: str = ""  # what its endpoint data is called ("Microsoft 365 endpoint data")
    origin: str = "built in"  # the catalogue file it comes from

    @property
    def includes(self) -> tuple[str, ...]:
        return (self.include, *self.aliases)

    @property
    def kind(self) -> str:
        """"name", "pattern" (one include per customer) or "template" (a macro include, RFC 7208 §7)."""
        return "template" if "%{" in self.include else "pattern" if _is_pattern(self.include) else "name"


def _is_pattern(text: str) -> bool:
    return any(c in text for c in "*?[")


@dataclass(frozen=True)
class Allowlist:
    """The form a receiving platform's console takes an allow-list in."""

    name: str
    display: str
    families: tuple[int, ...]
    header: tuple[str, str]
    note: str = ""


@dataclass(frozen=True)
class RetiredRange:
    network: Network
    platform: str
    retired: str
    what: str


@dataclass(frozen=True)
class Catalogue:
    platforms: dict[str, Platform] = field(default_factory=dict)
    retired: tuple[RetiredRange, ...] = ()
    allowlists: dict[str, Allowlist] = field(default_factory=dict)

    def with_role(self, role: str) -> Platform:
        """The platform that plays ``role`` (e.g. "exchange-online")."""
        found = next((p for p in self.platforms.values() if p.role == role), None)
        if found is None:
            raise KeyError(f"no platform of the catalogue has the role {role!r}")
        return found

    def endpoints_platform(self) -> Platform | None:
        """The platform whose ranges come from an endpoint web service (Microsoft 365)."""
        return next((p for p in self.platforms.values() if p.endpoints), None)

    def get(self, name: str) -> Platform:
        try:
            return self.platforms[name]
        except KeyError:
            known = ", ".join(sorted(self.platforms))
            raise KeyError(f"unknown platform {name!r} (known: {known})") from None

    def matches(self, platform: Platform, name: str) -> bool:
        """Whether ``name`` (a node of a record's tree) is the platform's include or an alias of it; an alias may
        be a pattern (``*.spf0?.hubspotemail.net``: one include per customer)."""
        name = name.lower().rstrip(".")
        return any(name == i.lower() or (_is_pattern(i) and "%{" not in i and fnmatch.fnmatchcase(name, i))
                   for i in platform.includes)

    def platform_of_host(self, host: str) -> str | None:
        """The platform whose inbound mail hosts match ``host`` (an MX target or a smart host)."""
        host = host.lower().rstrip(".")
        return next((p.name for p in self.platforms.values() if any(fnmatch.fnmatchcase(host, m) for m in p.mx)),
                    None)

    def platform_of_ptr(self, name: str) -> str | None:
        """The platform whose outbound servers' reverse-DNS names match ``name``."""
        name = name.lower().rstrip(".")
        return next((p.name for p in self.platforms.values() if any(fnmatch.fnmatchcase(name, m) for m in p.ptr)),
                    None)

    def retired_overlapping(self, network: Network) -> list[RetiredRange]:
        return [r for r in self.retired if r.network.version == network.version and r.network.overlaps(network)]


class CatalogueError(UserError):
    """A catalogue file that cannot be used: the message names the file and line."""


PLATFORM_KEYS = ("display", "include", "owner", "aliases", "endpoints", "mx", "ptr", "source", "role", "allowlist",
                 "endpoints_name")
USER_KEYS = ("display", "include", "owner", "aliases", "mx", "ptr", "source")  # roles and endpoints stay built in
_extra_files: tuple[Path, ...] = ()


def use_files(paths: Iterable[Path]) -> None:
    """The catalogue files a configuration names (``[catalogue] files``), read after the XDG ones."""
    global _extra_files
    paths = tuple(paths)
    if paths != _extra_files:
        _extra_files = paths
        load_catalogue.cache_clear()


def user_files() -> list[Path]:
    """The user's catalogue files, in the order they are read."""
    folder = xdg_config_home()
    found = [folder / "catalogue.toml"] if (folder / "catalogue.toml").is_file() else []
    found += sorted((folder / "catalogue.d").glob("*.toml")) if (folder / "catalogue.d").is_dir() else []
    return found + list(_extra_files)


def _line(text: str, name: str, key: str | None = None) -> int:
    """The line of ``[platforms.NAME]`` (or of ``key =`` below it) in a catalogue file, 1-based; 0 if not found."""
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\s*platforms\s*\.\s*\"?{re.escape(name)}\"?\s*\]")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return 0
    if key is None:
        return start + 1
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start + 1


def _platform(name: str, spec: Any, origin: str, text: str, keys: tuple[str, ...]) -> Platform:
    def fail(message: str, key: str | None = None) -> CatalogueError:
        line = _line(text, name, key)
        return CatalogueError(f"catalogue {origin}{f':{line}' if line else ''}: [platforms.{name}] {message}")

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise fail("the name must be lower-case letters, digits, - and _")
    if not isinstance(spec, dict):
        raise fail("must be a table")
    for key in spec:
        if key not in keys:
            guess = nearest(key, keys)
            raise fail(f"unknown key {key!r}{f'; did you mean {guess!r}?' if guess else ''} (known: "
                       f"{', '.join(keys)})", key)
    for key in ("display", "include"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise fail(f"needs {key} = \"…\"", key)
    for key in ("owner", "endpoints", "source", "role", "allowlist", "endpoints_name"):
        if key in spec and not isinstance(spec[key], str):
            raise fail(f"{key} must be a string", key)
    for key in ("aliases", "mx", "ptr"):
        if key in spec and not (isinstance(spec[key], list) and all(isinstance(v, str) and v for v in spec[key])):
            raise fail(f"{key} must be a list of strings", key)
    for key, value in [("include", spec["include"]), *(("aliases", a) for a in spec.get("aliases", ()))]:
        problem = _include_problem(value)
        if problem:
            raise fail(f"{key} {value!r}: {problem}", key)
    return Platform(name, spec["display"], spec["include"].lower().rstrip("."), spec.get("owner", ""),
                    tuple(a.lower().rstrip(".") for a in spec.get("aliases", ())), spec.get("endpoints"),
                    tuple(spec.get("mx", ())), tuple(spec.get("ptr", ())), spec.get("source", ""), spec.get("role"),
                    spec.get("allowlist"), spec.get("endpoints_name", ""), origin)


def _include_problem(value: str) -> str | None:
    """Why ``value`` cannot be an include of the catalogue (None when it can)."""
    if "%{" in value:
        from spfguard.spf.errors import SpfSyntaxError
        from spfguard.spf.parser import parse_domain_spec

        try:
            parse_domain_spec(value)
        except SpfSyntaxError as err:
            return f"not a valid macro domain-spec ({err})"
        return None
    text = value.lower().rstrip(".")
    if not re.fullmatch(r"[a-z0-9_*?\[\]-]+(\.[a-z0-9_*?\[\]-]+)+", text):
        return "not a domain name (or a pattern with * ? [...], or a macro template with %{…})"
    return None


def read_catalogue_file(path: Path) -> dict[str, Platform]:
    text = read_text(path, "catalogue file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CatalogueError(f"catalogue {path}: not valid TOML: {err}") from None
    unknown = [k for k in data if k != "platforms"]
    if unknown:
        raise CatalogueError(f"catalogue {path}: unknown table or key {unknown[0]!r} (a catalogue file holds "
                             "[platforms.NAME] tables)")
    platforms = data.get("platforms", {})
    if not isinstance(platforms, dict):
        raise CatalogueError(f"catalogue {path}: platforms must be tables ([platforms.NAME])")
    return {name: _platform(name, spec, str(path), text, USER_KEYS) for name, spec in platforms.items()}


@cache
def load_catalogue() -> Catalogue:
    """The built-in catalogue, then the user's files (:func:`user_files`)."""
    package = resources.files("spfguard.vendors")
    text = package.joinpath("catalogue.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    platforms = {name: _platform(name, spec, "built in", text, PLATFORM_KEYS)
                 for name, spec in data["platforms"].items()}
    for path in user_files():
        platforms.update(read_catalogue_file(path))
    allowlists = {name: Allowlist(name, spec["display"], tuple(spec["families"]), tuple(spec["header"]),
                                  spec.get("note", "")) for name, spec in data.get("allowlists", {}).items()}
    retired = []
    for line in package.joinpath("retired.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            network, platform, when, what = line.split("\t")
            retired.append(RetiredRange(ipaddress.ip_network(network), platform, when, what))
    return Catalogue(platforms, tuple(retired), allowlists)
