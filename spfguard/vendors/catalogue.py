"""The data-driven sender catalogue (``catalogue.toml``) and the dated table of retired ranges (``retired.tsv``)."""

from __future__ import annotations

import fnmatch
import ipaddress
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

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

    @property
    def includes(self) -> tuple[str, ...]:
        return (self.include, *self.aliases)


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
        return any(name == i or (any(c in i for c in "*?[") and fnmatch.fnmatchcase(name, i))
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


@cache
def load_catalogue() -> Catalogue:
    package = resources.files("spfguard.vendors")
    data = tomllib.loads(package.joinpath("catalogue.toml").read_text(encoding="utf-8"))
    platforms = {
        name: Platform(name, spec["display"], spec["include"], spec.get("owner", ""), tuple(spec.get("aliases", ())),
                       spec.get("endpoints"), tuple(spec.get("mx", ())), tuple(spec.get("ptr", ())),
                       spec.get("source", ""), spec.get("role"), spec.get("allowlist"),
                       spec.get("endpoints_name", ""))
        for name, spec in data["platforms"].items()
    }
    allowlists = {name: Allowlist(name, spec["display"], tuple(spec["families"]), tuple(spec["header"]),
                                  spec.get("note", "")) for name, spec in data.get("allowlists", {}).items()}
    retired = []
    for line in package.joinpath("retired.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            network, platform, when, what = line.split("\t")
            retired.append(RetiredRange(ipaddress.ip_network(network), platform, when, what))
    return Catalogue(platforms, tuple(retired), allowlists)
