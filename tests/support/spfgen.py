"""A seeded generator of random SPF trees for property and differential tests (issue #10).

Each tree is a handful of domains under ``gen.test`` whose records mix every kind of term — include,
redirect, a, mx, ptr, exists (with and without macros), ip4/ip6, qualifiers, ``all`` anywhere (or missing),
exp= — over hosts with A only, AAAA only, both, none, NXDOMAIN or a CNAME; MX sets with duplicate exchanges;
missing and multiple records, loops. Clients are chosen to hit ranges, hosts and DNSBL-style listings, and
to match nothing.

Macros are generated only where the static walk can account for them: ``exists`` and ``a`` (any letter but
``p``) and ``%{d}`` forms in include/redirect, which the walk expands. A macro ``include`` or ``mx`` can expand
to a name whose cost no static counter can know; that is documented in the README, not generated here.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

from spfguard.dns.memory import MemoryDns

ZONE = "gen.test"
QUALIFIERS = ("", "", "", "+", "-", "~", "?")


@dataclass
class Tree:
    root: str
    table: dict[str, list[tuple[str, object]]] = field(default_factory=dict)
    clients: list[str] = field(default_factory=list)
    records: dict[str, list[str]] = field(default_factory=dict)  # for messages

    def add(self, name: str, rdtype: str, value: object) -> None:
        self.table.setdefault(name, []).append((rdtype, value))
        if rdtype == "TXT":
            self.records.setdefault(name, []).append(value)

    def dns(self) -> MemoryDns:
        return MemoryDns(self.table)

    def describe(self) -> str:
        lines = [f"root {self.root}"]
        for name, entries in sorted(self.table.items()):
            lines += [f"  {name} {rdtype} {value!r}" for rdtype, value in entries]
        return "\n".join(lines)


def _v4(rng: random.Random) -> str:
    return f"192.0.2.{rng.randint(1, 254)}" if rng.random() < 0.7 else f"198.51.100.{rng.randint(1, 254)}"


def _v6(rng: random.Random) -> str:
    return f"2001:db8::{rng.randint(1, 0xfff):x}"


def generate(rng: random.Random, zone: str = ZONE, *, long: bool = False, wildcards: bool = False) -> Tree:
    """A random tree under ``zone``. ``long``: a root record over 450 bytes — many ranges, pass and not, around
    non-pass includes and void-prone a: terms (for the planner's chains and per-address limits). ``wildcards``:
    ``*`` names beside empty non-terminals, reached by the records' terms (RFC 4592). Both draw from a second
    generator seeded last, so that the plain trees of a seed are the same with or without them."""
    n_domains = rng.randint(1, 6)
    domains = [f"d{i}.{zone}" for i in range(n_domains)]
    hosts = [f"h{i}.{zone}" for i in range(rng.randint(1, 5))]
    mxes = [f"m{i}.{zone}" for i in range(rng.randint(1, 3))]
    lists = [f"bl{i}.{zone}" for i in range(1, 4)]
    tree = Tree(domains[0])
    addresses4: list[str] = []
    addresses6: list[str] = []

    for host in hosts:
        kind = rng.random()
        if kind < 0.15:
            continue  # NXDOMAIN
        if kind < 0.25 and host != hosts[0]:
            tree.add(host, "CNAME", hosts[0])
            continue
        if kind < 0.35:
            tree.add(host, "TXT", "not an address")  # the name exists: NODATA for A and AAAA
            continue
        if kind < 0.8 or rng.random() < 0.5:
            for _ in range(rng.randint(1, 2)):
                address = _v4(rng)
                tree.add(host, "A", address)
                addresses4.append(address)
        if kind >= 0.6:
            address = _v6(rng)
            tree.add(host, "AAAA", address)
            addresses6.append(address)
    for mx in mxes:
        if rng.random() < 0.15:
            continue
        for _ in range(rng.randint(0, 3)):
            target = rng.choice(hosts) if rng.random() < 0.85 else f"gone.{zone}"
            tree.add(mx, "MX", (rng.choice((10, 20, 20, 30)), target))
        if rng.random() < 0.05:  # more than 10 MX records: permerror
            for i in range(11):
                tree.add(mx, "MX", (i, rng.choice(hosts)))
        if mx not in tree.table:
            tree.add(mx, "TXT", "no mail here")

    def term(i: int) -> str:
        q = rng.choice(QUALIFIERS)
        kind = rng.choices(["ip4", "ip6", "a", "a:host", "mx", "mx:m", "ptr", "ptr:zone", "exists", "exists:macro",
                            "exists:d", "a:macro", "a:d", "include", "include:d"],
                           [10, 5, 4, 8, 3, 6, 2, 2, 4, 5, 1, 2, 1, 14, 1])[0]
        if kind == "ip4":
            base = rng.choice(("192.0.2", "198.51.100"))
            prefix = rng.choice((24, 25, 28, 30, 32, 32))
            return f"{q}ip4:{base}.{rng.randint(0, 255)}" + ("" if prefix == 32 else f"/{prefix}")
        if kind == "ip6":
            return f"{q}ip6:2001:db8::{rng.randint(0, 0xfff):x}/{rng.choice((112, 120, 126, 128))}"
        cidr = rng.choice(("", "", "", "/24", "//64", "/28//120"))
        if kind == "a":
            return f"{q}a{cidr}"
        if kind == "a:host":
            return f"{q}a:{rng.choice(hosts + [f'gone.{zone}'])}{cidr}"
        if kind == "a:macro":
            return f"{q}a:%{{l}}.{rng.choice(hosts)}"
        if kind == "a:d":
            return f"{q}a:%{{d}}{cidr}"
        if kind == "mx":
            return f"{q}mx{cidr}"
        if kind == "mx:m":
            return f"{q}mx:{rng.choice(mxes)}{cidr}"
        if kind == "ptr":
            return f"{q}ptr"
        if kind == "ptr:zone":
            return f"{q}ptr:{zone}"
        if kind == "exists":
            return f"{q}exists:{rng.choice(hosts + [f'gone.{zone}'])}"
        if kind == "exists:macro":
            letters = rng.choice(("ir", "i", "l", "o", "ir", "v", "h", "s", "l1r-", "p", "d2"))
            return f"{q}exists:%{{{letters}}}.{rng.choice(lists)}" if rng.random() < 0.9 else \
                f"{q}exists:%{{i}}.%{{o}}.%{{s}}.{'x' * 60}.{'y' * 60}.{rng.choice(lists)}"  # truncated (§7.3)
        if kind == "exists:d":
            return f"{q}exists:%{{d1}}" if rng.random() < 0.5 else f"{q}exists:%{{d}}"
        if kind == "include:d":
            return f"{q}include:_spf.%{{d}}"
        # include: mostly forward (a tree), sometimes backward (a loop), sometimes a missing domain
        roll = rng.random()
        if roll < 0.08:
            return f"{q}include:missing.{zone}"
        if roll < 0.12 or i + 1 >= len(domains):
            return f"{q}include:{rng.choice(domains)}"
        return f"{q}include:{rng.choice(domains[i + 1:])}"

    for i, domain in enumerate(domains):
        roll = rng.random()
        if roll < 0.04 and i:
            continue  # no record at all (NXDOMAIN unless something else lives here)
        if roll < 0.07 and i + 1 < len(domains):
            tree.add(domain, "CNAME", domains[i + 1])  # the record is found through a CNAME
            continue
        if roll < 0.08:
            tree.add(domain, "TIMEOUT", None)
            continue
        terms = [term(i) for _ in range(rng.choice((0, 1, 2, 2, 3, 3, 4, 5, 6, 8)))]
        end = rng.random()
        if end < 0.55:
            terms.insert(len(terms) if rng.random() < 0.85 else rng.randint(0, len(terms)),
                         rng.choice(("-all", "-all", "~all", "?all", "all", "+all")))
        if end > 0.75 and i + 1 < len(domains):
            terms.append(f"redirect={rng.choice(domains[i + 1:])}")
        if rng.random() < 0.05:
            terms.append(f"exp=exp.{zone}")
        if rng.random() < 0.02:
            terms.append("ip4:192.0.2.300")  # a syntax error
        if rng.random() < 0.05:
            terms.insert(rng.randint(0, len(terms)), rng.choice(("x-owner=it", "x-owner=a x-owner=b", "moo=%{d}")))
        if rng.random() < 0.1:  # names and keywords are case-insensitive
            terms = [t.upper() if not t.startswith(("ip", "+ip", "-ip", "~ip", "?ip")) else t for t in terms]
        tree.add(domain, "TXT", " ".join(["v=spf1", *terms]))
        if rng.random() < 0.03:
            tree.add(domain, "TXT", "v=spf1 -all")  # two records
        if rng.random() < 0.5:
            address = _v4(rng)
            tree.add(domain, "A", address)
            addresses4.append(address)
        if rng.random() < 0.3:
            tree.add(domain, "MX", (10, rng.choice(hosts)))
        if rng.random() < 0.3:
            tree.add(f"_spf.{domain}", "TXT", f"v=spf1 ip4:{_v4(rng)} -all")
    tree.add(zone, "A", "192.0.2.250")  # for %{d1}-style names; "test" itself is absent
    tree.add(f"exp.{zone}", "TXT", "Not allowed: %{i}")

    clients = {f"203.0.113.{rng.randint(1, 254)}", _v4(rng), _v6(rng), f"2001:db8:ffff::{rng.randint(1, 99)}"}
    clients |= set(rng.sample(addresses4, min(2, len(addresses4))))
    clients |= set(rng.sample(addresses6, min(1, len(addresses6))))
    for client in list(clients):
        ip = ipaddress.ip_address(client)
        if rng.random() < 0.3:  # listed in a DNSBL-style zone
            listed = rng.choice(lists)
            reverse = ".".join(reversed(ip.exploded.replace(":", "") if ip.version == 6 else client.split(".")))
            if ip.version == 4:
                tree.add(f"{reverse}.{listed}", "A", "127.0.0.2")
                tree.add(f"{client}.{listed}", "A", "127.0.0.2")
        if rng.random() < 0.3:  # reverse DNS, forward-confirmed or not
            tree.add(ip.reverse_pointer, "PTR", rng.choice(hosts))
    # the local-part used by the a:%{l} and exists:%{l} terms
    tree.add(f"postmaster.{rng.choice(hosts)}", "A", "192.0.2.77")
    tree.add(f"postmaster.{rng.choice(lists)}", "A", "127.0.0.2")
    tree.clients = sorted(clients)
    if long or wildcards:
        extra = random.Random(rng.random())
        if long:
            _lengthen(tree, extra, zone, hosts)
        if wildcards:
            _wildcards(tree, extra, zone)
    return tree


def _replace_record(tree: Tree, name: str, record: str) -> None:
    tree.table[name] = [(t, v) for t, v in tree.table.get(name, []) if t not in ("TXT", "CNAME")] + [("TXT", record)]
    tree.records[name] = [record]


def _lengthen(tree: Tree, rng: random.Random, zone: str, hosts: list[str]) -> None:
    """The root becomes a long record: pass ranges before and after ``~include:``/``?include:``/``-ip4:`` terms
    (some overlapping), void-prone ``a:`` terms, and includes of range-only records that overlap each other."""
    vendors = []
    for n in range(rng.randint(1, 3)):
        name = f"v{n}.{zone}"
        ranges = [f"ip4:198.51.100.{rng.randrange(0, 256, 8)}/29" for _ in range(rng.randint(1, 6))]
        ranges += [f"ip6:2001:db8:{rng.randint(1, 4):x}::/{rng.choice((48, 64))}" for _ in range(rng.randint(0, 2))]
        tree.add(name, "TXT", "v=spf1 " + " ".join(ranges) + " -all")
        vendors.append(name)
    terms = []
    for _ in range(rng.randint(25, 45)):
        roll = rng.random()
        if roll < 0.55:
            base = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
            terms.append(f"{rng.choice(('', '', '', '-', '~'))}ip4:{base}.{rng.randrange(0, 256, 4)}/"
                         f"{rng.choice((30, 30, 31, 32, 28))}")
        elif roll < 0.65:
            terms.append(f"ip6:2001:db8:{rng.randint(1, 4):x}:{rng.randint(0, 0xffff):x}::/64")
        elif roll < 0.8:
            terms.append(f"{rng.choice(('', '', '~', '?', '-'))}include:{rng.choice(vendors)}")
        elif roll < 0.9:
            terms.append(f"a:{rng.choice(hosts + [f'gone.{zone}'])}")
        else:
            terms.append(f"include:{rng.choice(vendors)}")
    terms.append(rng.choice(("-all", "~all")))
    _replace_record(tree, tree.root, "v=spf1 " + " ".join(terms))


def _wildcards(tree: Tree, rng: random.Random, zone: str) -> None:
    """``*.e.{zone}`` with records, and ``a.b.e.{zone}``: ``b.e.{zone}`` is an empty non-terminal (NODATA, not
    the wildcard: RFC 4592 §2.2.2); the root reaches both through a:, exists: and include: terms."""
    tree.add(f"*.e.{zone}", "A", "192.0.2.99")
    tree.add(f"*.e.{zone}", "TXT", "v=spf1 ip4:192.0.2.99 -all")
    tree.add(f"a.b.e.{zone}", "A", "192.0.2.98")
    if rng.random() < 0.5:
        tree.add(f"*.b.e.{zone}", "AAAA", "2001:db8::99")
    names = [f"b.e.{zone}", f"x.e.{zone}", f"y.b.e.{zone}", f"a.b.e.{zone}"]
    extra = [f"{rng.choice(('a', 'exists'))}:{rng.choice(names)}" for _ in range(rng.randint(1, 3))]
    extra += [f"include:x.e.{zone}"] if rng.random() < 0.5 else []  # the wildcard's record
    records = tree.records.get(tree.root, [])
    if len(records) != 1:
        return
    terms = records[0].split()
    at = next((i for i, t in enumerate(terms) if t.lower().lstrip("+-~?") == "all"), len(terms))
    _replace_record(tree, tree.root, " ".join([*terms[:at], *extra, *terms[at:]]))
    tree.clients = sorted({*tree.clients, "192.0.2.99", "192.0.2.98", "2001:db8::99"})


def zone_text(tree: Tree, zone: str) -> str | None:
    """The tree's names under ``zone`` as an RFC 1035 master file (for Knot, and for ``--zone``); None when the tree
    has a timeout, which no zone file can hold."""
    lines = [f"$ORIGIN {zone}.", "$TTL 300", "@ IN SOA ns hostmaster 1 3600 600 86400 300", "@ IN NS ns",
             "ns IN A 127.0.0.1"]
    suffix = "." + zone
    for name, entries in sorted(tree.table.items()):
        if name != zone and not name.endswith(suffix):
            continue
        owner = name + "."
        for rdtype, value in entries:
            if rdtype == "TIMEOUT":
                return None
            if rdtype == "TXT":
                data = str(value).encode()
                chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
                text = " ".join('"' + c.decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
            elif rdtype == "MX":
                text = f"{value[0]} {value[1]}."
            elif rdtype == "CNAME":
                text = f"{value}."
            else:
                text = str(value)
            lines.append(f"{owner} IN {rdtype} {text}")
    return "\n".join(lines) + "\n"
