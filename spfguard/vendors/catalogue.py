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

    @property
    def includes(self) -> tuple[str, ...]:
        return (self.include, *self.aliases)


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

    def get(self, name: str) -> Platform:
        try:
            return self.platforms[name]
        except KeyError:
            known = ", ".join(sorted(self.platforms))
            raise KeyError(f"unknown platform {name!r} (known: {known})") from None

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
                       spec.get("source", ""))
        for name, spec in data["platforms"].items()
    }
    retired = []
    for line in package.joinpath("retired.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            network, platform, when, what = line.split("\t")
            retired.append(RetiredRange(ipaddress.ip_network(network), platform, when, what))
    return Catalogue(platforms, tuple(retired))
