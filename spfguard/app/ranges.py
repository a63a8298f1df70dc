"""``ranges``: the sender catalogue, a platform's current ranges, the Microsoft 365 endpoint data and the
allow-list exports of Exchange Online's outbound ranges."""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass, field
from pathlib import Path

from spfguard.app.dns import DnsOptions, open_dns
from spfguard.errors import IncompleteError, UserError
from spfguard.tables import nearest
from spfguard.vendors.catalogue import Catalogue, Platform


@dataclass
class Ranges:
    platform: str
    display: str
    origin: str
    networks: list[str]
    note: str | None = None


def platform(catalogue: Catalogue, name: str) -> Platform:
    if name not in catalogue.platforms:
        guess = nearest(name, catalogue.platforms)
        raise UserError(f"unknown platform {name!r}{f'; did you mean {guess!r}?' if guess else ''} "
                        "(see `spfguard ranges list`)")
    return catalogue.platforms[name]


def show(catalogue: Catalogue, name: str, source: str, dns: DnsOptions) -> Ranges:
    """``source``: "spf" (its SPF chain, resolved now) or "endpoints" (Microsoft's endpoint web service)."""
    from spfguard.vendors.coverage import sender_set
    from spfguard.vendors.msendpoints import EndpointsClient

    found = platform(catalogue, name)
    if source == "endpoints":
        if found.endpoints is None:
            raise UserError(f"--source endpoints: only Microsoft publishes an endpoint service, not {name}")
        data = EndpointsClient().load(found.endpoints, offline=dns.offline)
        return Ranges(name, found.display, f"{found.endpoints_name or 'endpoints'} {data.instance} version "
                      f"{data.version} ({data.source})", [str(n) for n in data.exchange_smtp_networks()],
                      data.age_note())
    senders = asyncio.run(sender_set(found, open_dns(dns)))
    if senders.error:
        raise IncompleteError(f"could not resolve {found.include}: {senders.error}")
    return Ranges(name, found.display, f"SPF chain of include:{found.include}", senders.cidrs())


@dataclass
class Update:
    instance: str
    version: str
    previous: str | None
    sets: int
    cached_in: Path
    current: bool  # the cache was already up to date
    warnings: list[str] = field(default_factory=list)


def update(instance: str) -> Update:
    """Refresh the cached Microsoft 365 endpoint data: version check first, download only when it changed."""
    from spfguard.vendors.msendpoints import EndpointsClient

    client = EndpointsClient()
    data, previous = client.update(instance)
    return Update(instance, data.version, previous, len(data.sets), client.directory, data.source == "cache",
                  list(client.warnings))


@dataclass
class Allowlist:
    target: str
    text: str  # the full export, in the requested format
    networks: list[str]
    note: str | None = None  # the age of the endpoint data
    left_out: str | None = None  # what the console does not take (IPv6 for Mimecast)
    diff: str | None = None  # what changed since a previous export
    warnings: list[str] = field(default_factory=list)


def allowlist(catalogue: Catalogue, target: str, fmt: str, instance: str = "Worldwide",
              previous: Path | None = None) -> Allowlist:
    from spfguard.textfile import read_text
    from spfguard.vendors import allowlist as exports
    from spfguard.vendors.msendpoints import EndpointsClient

    if target not in catalogue.allowlists:
        raise UserError(f"--for {target}: choose from {', '.join(catalogue.allowlists)}")
    client = EndpointsClient()
    data = client.load(instance)
    networks = data.exchange_smtp_networks()
    stamp = data.version if data.fetched_at is None else \
        f"{data.version}, fetched {datetime.datetime.fromtimestamp(data.fetched_at, datetime.UTC):%Y-%m-%d}"
    comment = f"Exchange Online outbound (Microsoft 365 endpoints {stamp})"
    form = catalogue.allowlists[target]
    chosen = exports.for_target(target, networks)
    result = Allowlist(target, exports.render(target, networks, fmt, comment), [str(n) for n in chosen],
                       data.age_note(), form.note if len(chosen) < len(networks) and form.note else None,
                       warnings=list(client.warnings))
    if previous is not None:  # read before anything is written: --previous and --output may be the same file
        old = exports.read_export(read_text(previous, "--previous", encodings=("utf-8", "utf-16", "cp1252")))
        result.diff = exports.diff(old, chosen).render()
    return result
