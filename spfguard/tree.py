"""The worst-case walk of a domain's whole SPF tree (RFC 7208 §4.6.4), concurrent.

Unlike ``check_host()``, which follows the path one address takes, the walk visits every include and
redirect branch, as an evaluation would when no term matches before the end, and counts what such an
evaluation costs:

* DNS-querying terms: include, a, mx, ptr, exists, redirect (qualified or not); not all, ip4, ip6, exp.
  A redirect beside ``all`` is never reached and is neither counted nor followed (§6.1). The same include
  reached twice counts twice.
* Only terms evaluation can reach: mechanisms after ``all`` are ignored (§5.1), a redirect beside ``all``
  too (§6.1).
* Void lookups (NXDOMAIN or no records), **separately for IPv4 and IPv6 senders**: an evaluation queries A
  for an IPv4 client and AAAA for an IPv6 client, for ``a`` and for every MX record of ``mx`` (a host named
  by two MX records is looked up twice); the MX query itself and ``exists`` (always A, §5.7) count for both.
  This is the strict rule of pyspf and Mail::SPF; other receivers count less (the README's table), so the
  IPv6 count is reported apart from the IPv4 one.
* Address lookups per ``mx`` (at most 10 MX records, §4.6.4).

Macros (§7) that name only the current domain (``%{d}``) are expanded, since the walk knows it; a term whose
target depends on the message is validated and counted as one lookup, and — in the worst case the walk models,
where no term matches — as one void lookup for ``exists``, ``a``, ``mx`` and ``ptr``: a non-matching
``exists`` is void by definition, and most clients' names (and PTR records) do not exist. Its include or
redirect target cannot be followed.

Sibling lookups are issued together (``asyncio.gather``), so the wall time is about the depth of the tree
times one round trip. Within a run, a subtree reached through an include or redirect — a vendor's tree included
by a thousand domains — is walked once and shared by every tree that reaches it once that walk is done (walks
running at the same moment share the DNS answers instead); the domain's own records are always read afresh.
Trees are not changed after the walk.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum

from spfguard.dns.base import Answer, DnsClient, Status, within
from spfguard.spf.errors import SpfSyntaxError
from spfguard.spf.limits import MX_LIMIT
from spfguard.spf.macro import expand_static
from spfguard.spf.names import truncate_domain, valid_domain, valid_name
from spfguard.spf.parser import parse_record
from spfguard.spf.terms import Mechanism, Modifier, Record, Term
from spfguard.spf.txt import select_record

MAX_NODES = 200  # a tree this large is broken anyway; stop expanding rather than exhaust memory


class NodeStatus(StrEnum):
    """What reading a record of the tree gave."""

    OK = "ok"
    NO_RECORD = "no-record"
    MULTIPLE_RECORDS = "multiple-records"
    SYNTAX_ERROR = "syntax-error"
    TEMPERROR = "temperror"
    LOOP = "loop"
    INVALID = "invalid"
    TRUNCATED = "truncated"


@dataclass
class TermInfo:
    """What one DNS-querying term costs and what it resolved to."""

    term: str
    ref: Term | None = field(default=None, repr=False, compare=False)  # the AST term (its text is ``term``)
    lookups: int = 1
    # the void lookups an IPv4 / IPv6 sender's evaluation makes here, each said in words ("h.example has no AAAA")
    void4: list[str] = field(default_factory=list)
    void6: list[str] = field(default_factory=list)
    mx_hosts: int = 0  # mx: number of MX records (each needs an address lookup)
    exists: bool = False  # exists: the name has an A record, so the term matches every client
    addresses4: list[str] = field(default_factory=list)  # a / mx: the addresses found
    addresses6: list[str] = field(default_factory=list)
    macro: bool = False
    error: str | None = None  # temporary failure text
    child: Node | None = None  # include / redirect: the record it leads to
    # the families (4, 6) whose clients have all matched an earlier term of the record: they never get here
    skipped: frozenset[int] = frozenset()

    @property
    def voids4(self) -> int:
        return len(self.void4)

    @property
    def voids6(self) -> int:
        return len(self.void6)

    def void(self, *, v4: str | None = None, v6: str | None = None) -> None:
        if v4 is not None:
            self.void4.append(v4)
        if v6 is not None:
            self.void6.append(v6)


@dataclass
class Node:
    name: str
    via: str | None = None  # the parent's term that led here, e.g. "include:_spf.google.com"
    status: NodeStatus = NodeStatus.OK
    record: str | None = None
    candidates: tuple[str, ...] = ()
    error: str | None = None
    error_position: int | None = None
    parsed: Record | None = None
    terms: list[TermInfo] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)  # terms after one that matches every client
    # part of a subtree shared by the trees of the run (:func:`_subtrees`): what is worked out from it may be kept
    shared: bool = field(default=False, compare=False, repr=False)

    @property
    def by_redirect(self) -> bool:
        """Reached through a ``redirect=`` (RFC 7208 §6.1), not an include."""
        return (self.via or "").lower().startswith("redirect=")

    @property
    def children(self) -> list[Node]:
        return [t.child for t in self.terms if t.child is not None]

    @property
    def lookups(self) -> int:
        return sum(t.lookups for t in self.terms)

    def lookups_for(self, version: int) -> int:
        """The worst case of a client of that family: the terms it can reach, and their subtrees."""
        return sum(t.lookups + (t.child.lookups_for(version) if t.child is not None else 0) for t in self.terms
                   if version not in t.skipped)

    @property
    def total_lookups(self) -> int:
        """The worst case over both families (they differ only after a term that matches every client of one)."""
        return max(self.lookups_for(4), self.lookups_for(6))

    def voids_for(self, version: int) -> int:
        return sum((t.voids4 if version == 4 else t.voids6) + (t.child.voids_for(version) if t.child is not None
                                                               else 0) for t in self.terms
                   if version not in t.skipped)

    @property
    def total_voids4(self) -> int:
        return self.voids_for(4)

    @property
    def total_voids6(self) -> int:
        return self.voids_for(6)

    def reached(self, version: int):
        """This node and every descendant a client of that family can reach, in evaluation order."""
        yield self
        for info in self.terms:
            if info.child is not None and version not in info.skipped:
                yield from info.child.reached(version)

    def matches_every(self, version: int) -> bool:
        """Evaluating this record gives ``pass`` to every client of the family, with no error on the way: an
        include of it matches every such client (RFC 7208 §5.2)."""
        if self.status != NodeStatus.OK or self.parsed is None:
            return False
        infos = {id(info.ref): info for info in self.terms}
        for mech in self.parsed.reachable:
            info = infos.get(id(mech))
            if _matches_every(mech, info, version):
                return mech.result == "pass"
            if mech.result != "pass" or (info is not None and (info.error or (
                    info.child is not None and any(n.status != NodeStatus.OK for n in info.child.walk())))):
                return False  # some client may get another result (or an error) here first
        redirect = self.parsed.effective_redirect
        info = infos.get(id(redirect)) if redirect is not None else None
        return info is not None and info.child is not None and info.child.matches_every(version)

    def walk(self):
        """This node and every descendant, in evaluation order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def walk_paths(self, path: tuple[str, ...] = ()):
        """(node, path) for this node and every descendant; the path names the terms that lead there."""
        path = (*path, self.via or self.name)
        yield self, path
        for child in self.children:
            yield from child.walk_paths(path)


@dataclass
class _Shared:
    """A subtree walked once in this run, with what deciding whether it can be reused needs."""

    node: Node
    names: frozenset[str]  # every record name in it (a loop back to an ancestor is not shared)
    size: int  # its records (against MAX_NODES)


def _subtrees(dns: DnsClient) -> dict | None:
    """The run's shared subtrees, kept on the DNS client of the run (whose answers are the run's snapshot): a
    vendor tree included by a thousand domains is read, parsed and walked once. Only clients that answer the same
    way for the whole run share (live DNS with its cache, zone files); an in-memory test table does not."""
    if not getattr(dns, "shares_subtrees", False):
        return None
    found = getattr(dns, "_spf_subtrees", None)
    if found is None:
        found = {}
        dns._spf_subtrees = found  # type: ignore[attr-defined]
    return found


def _shareable(node: Node) -> _Shared | None:
    names, size = set(), 0
    for inner in node.walk():
        size += 1
        names.add(inner.name.lower())
        if inner.status in (NodeStatus.LOOP, NodeStatus.TRUNCATED, NodeStatus.TEMPERROR) or \
                any(info.error for info in inner.terms):
            return None  # depends on where it was reached, or on a moment's failure
    return _Shared(node, frozenset(names), size)


@dataclass
class _Walk:
    dns: DnsClient
    nodes: int = 0
    root: str = ""

    async def node(self, name: str, via: str | None, ancestors: tuple[str, ...], sharing: bool = False) -> Node:
        """``sharing``: this point of the walk lies inside a subtree this walk is reading for the run's sharing."""
        shared = _subtrees(self.dns)
        if shared is None or via is None or within(name, self.root) or not valid_domain(name):
            return await self._node(name, via, ancestors, sharing)  # the domain's own records are read afresh
        key = (name.lower(), via)
        entry = shared.get(key)
        if entry is None:
            future: asyncio.Future = asyncio.get_running_loop().create_future()
            shared[key] = future
            try:
                node = await self._node(name, via, ancestors, True)
            except BaseException:
                shared.pop(key, None)
                future.set_result(None)
                raise
            found = _shareable(node)
            if found is not None:
                for inner in node.walk():
                    inner.shared = True
            future.set_result(found)
            return node
        # Another walk is reading this subtree. Only a walk that reads none for sharing itself waits for it: those
        # that do never wait, so no two walks can wait on each other (a loop across domains' trees).
        found = entry.result() if entry.done() else None if sharing else await asyncio.shield(entry)
        if found is not None and not (found.names & set(ancestors)) and self.nodes + found.size <= MAX_NODES:
            self.nodes += found.size
            return found.node
        return await self._node(name, via, ancestors, sharing)

    async def _node(self, name: str, via: str | None, ancestors: tuple[str, ...], sharing: bool) -> Node:
        node = Node(name=name, via=via)
        self.nodes += 1
        if name.lower() in ancestors:
            node.status, node.error = NodeStatus.LOOP, f"{name} includes itself through {' -> '.join(ancestors)}"
            return node
        if self.nodes > MAX_NODES:
            node.status, node.error = NodeStatus.TRUNCATED, f"tree larger than {MAX_NODES} records: not expanded"
            return node
        if not valid_domain(name):
            node.status, node.error = NodeStatus.INVALID, f"{name!r} is not a valid domain name"
            return node
        answer = await self.dns.query(name, "TXT")
        if answer.status is Status.TEMPFAIL:
            node.status, node.error = NodeStatus.TEMPERROR, f"TXT lookup failed: {answer.error or 'timeout'}"
            return node
        selection = select_record(answer.records)
        node.candidates = selection.candidates
        if selection.multiple:
            node.status, node.error = NodeStatus.MULTIPLE_RECORDS, f"{len(selection.candidates)} SPF records"
            return node
        if selection.record is None:
            node.status = NodeStatus.NO_RECORD
            node.error = "no SPF record" + (" (name does not exist)" if answer.status is Status.NXDOMAIN else "")
            return node
        node.record = selection.record
        try:
            node.parsed = parse_record(selection.record)
        except SpfSyntaxError as err:
            node.status, node.error, node.error_position = NodeStatus.SYNTAX_ERROR, str(err), err.position
            return node
        await self.expand(node, (*ancestors, name.lower()), sharing)
        return node

    async def expand(self, node: Node, ancestors: tuple[str, ...], sharing: bool = False) -> None:
        if node.parsed is None:
            return
        terms = node.parsed.lookup_terms
        node.terms = [TermInfo(t.render(), ref=t) for t in terms]
        jobs = []
        for term, info in zip(terms, node.terms, strict=True):
            target = node.name
            if term.domain is not None:
                expanded = expand_static(term.domain.tokens, node.name)
                if expanded is None:  # depends on the message
                    info.macro = True
                    if isinstance(term, Mechanism) and term.kind in ("exists", "a", "mx", "ptr"):
                        why = f"{term.domain.text} does not exist for most clients"
                        info.void(v4=why, v6=why)
                    continue
                target = truncate_domain(expanded).rstrip(".")
            if isinstance(term, Modifier) or term.kind == "include":
                jobs.append(self.follow(info, target, ancestors, sharing))
            elif term.kind == "ptr":
                why = "clients without reverse DNS have no PTR record"  # §5.5: the PTR query of the client
                info.void(v4=why, v6=why)
            else:
                jobs.append(self.resolve_term(term, target, info))
        await asyncio.gather(*jobs)
        _mark_unreached(node)

    async def follow(self, info: TermInfo, target: str, ancestors: tuple[str, ...], sharing: bool) -> None:
        info.child = await self.node(target, info.term, ancestors, sharing)

    async def resolve_term(self, term: Mechanism, target: str, info: TermInfo) -> None:
        if not valid_name(target):
            return  # an RFC 1035-invalid name is never queried: no match, no lookup result
        if term.kind == "exists":  # §5.7: always an A query
            answer = await self.dns.query(target, "A")
            if not _failed(answer, info):
                if answer.void:
                    info.void(v4=_why(answer), v6=_why(answer))
                info.exists = answer.status is Status.ANSWER and bool(answer.records)
            return
        if term.kind == "a":
            _add_addresses(info, *await self.addresses(target))
            return
        answer = await self.dns.query(target, "MX")  # mx
        if _failed(answer, info):
            return
        if answer.void:
            info.void(v4=_why(answer), v6=_why(answer))
        info.mx_hosts = len(answer.records)
        # every MX record is one address lookup, even when two name the same host (§5.4)
        hosts = [host for _, host in sorted(answer.records) if host not in ("", ".")]
        unique = list(dict.fromkeys(hosts))
        found = dict(zip(unique, await asyncio.gather(*(self.addresses(h) for h in unique)), strict=True))
        for host in hosts:
            _add_addresses(info, *found[host])

    async def addresses(self, host: str) -> tuple[Answer, Answer]:
        a, aaaa = await asyncio.gather(self.dns.query(host, "A"), self.dns.query(host, "AAAA"))
        return a, aaaa


def _matches_every(mech: Mechanism, info: TermInfo | None, version: int) -> bool:
    """The mechanism matches every client of the family (RFC 7208 §5): ``all``; ``ip4:0.0.0.0/0``/``ip6:::/0``;
    ``a``/``mx`` with a /0 prefix when the host(s) have an address of the family; ``exists`` of a name that has an
    A record; an include of a record that passes every such client."""
    if mech.kind == "all":
        return True
    if mech.network is not None:
        return mech.network.version == version and mech.network.prefixlen == 0
    if info is None or info.macro or info.error:
        return False
    if mech.kind in ("a", "mx"):
        prefix, found = (mech.cidr4, info.addresses4) if version == 4 else (mech.cidr6, info.addresses6)
        return prefix == 0 and bool(found) and info.mx_hosts <= MX_LIMIT
    if mech.kind == "exists":
        return info.exists
    if mech.kind == "include":
        return info.child is not None and info.child.matches_every(version)
    return False


def _mark_unreached(node: Node) -> None:
    """RFC 7208 §4.6.2: evaluation stops at the first match. After a term that matches every client of a family,
    no client of that family reaches the later terms: they are neither counted nor followed for it; a term no
    client reaches is not followed at all (like the terms after ``all``, §5.1)."""
    if node.parsed is None:
        return
    infos = {id(info.ref): info for info in node.terms}
    done: set[int] = set()
    for mech in node.parsed.reachable:
        info = infos.get(id(mech))
        if done and info is not None:
            _skip(info, frozenset(done))
        done |= {v for v in (4, 6) if v not in done and _matches_every(mech, info, v)}
    redirect = node.parsed.effective_redirect
    info = infos.get(id(redirect)) if redirect is not None else None
    if done and info is not None:
        _skip(info, frozenset(done))
    node.unreached = [i.term for i in node.terms if i.skipped == {4, 6}]


def _skip(info: TermInfo, families: frozenset[int]) -> None:
    info.skipped = families
    if 4 in families:
        info.void4 = []
    if 6 in families:
        info.void6 = []
    if families == {4, 6}:  # never evaluated: costs nothing, and what it leads to is not read
        info.lookups, info.child, info.mx_hosts = 0, None, 0


def _add_addresses(info: TermInfo, a: Answer, aaaa: Answer) -> None:
    if not _failed(a, info):
        info.void(v4=_why(a) if a.void else None)
        info.addresses4.extend(str(x) for x in a.records if str(x) not in info.addresses4)
    if not _failed(aaaa, info):
        info.void(v6=_why(aaaa) if aaaa.void else None)
        info.addresses6.extend(str(x) for x in aaaa.records if str(x) not in info.addresses6)


def _why(answer: Answer) -> str:
    return f"{answer.name} does not exist" if answer.status is Status.NXDOMAIN else \
        f"{answer.name} has no {answer.rdtype}"


def _failed(answer: Answer, info: TermInfo) -> bool:
    if answer.status is Status.TEMPFAIL:
        info.error = f"{answer.rdtype} lookup for {answer.name} failed: {answer.error or 'timeout'}"
        return True
    return False


def running_totals(root: Node) -> dict[int, int]:
    """id(node) -> the running lookup count in evaluation order when that node is finished (for display; the
    nodes of a shared subtree are the same objects wherever they appear, so this is worked out per tree)."""
    totals: dict[int, int] = {}

    def number(node: Node, start: int) -> int:
        count = start
        for info in node.terms:
            count += info.lookups
            if info.child is not None:
                count = number(info.child, count)
        totals.setdefault(id(node), count)
        return count

    number(root, 0)
    return totals


async def walk_tree(domain: str, dns: DnsClient) -> Node:
    """Walk the SPF tree of ``domain`` (see the module docstring)."""
    domain = domain.rstrip(".")
    return await _Walk(dns, root=domain).node(domain, None, ())
