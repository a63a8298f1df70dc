"""The finding rules over a walked SPF tree (stable codes: :mod:`spfguard.findings`). Pure functions."""

from __future__ import annotations

from spfguard import receivers
from spfguard.dmarc import DmarcSummary
from spfguard.dns.base import within
from spfguard.findings import Finding
from spfguard.ipset import IPSet
from spfguard.spf.limits import LOOKUP_LIMIT, MX_LIMIT, RECORD_BYTES_LIMIT, VOID_LIMIT
from spfguard.spf.terms import QUALIFIER_RESULTS, Mechanism
from spfguard.tree import Node

WIDE_PREFIX = {4: 8, 6: 32}  # ranges this wide or wider are "permissive"
# error findings after which receivers return permerror for every sender
PERMERROR_CODES = frozenset({"too-many-lookups", "too-many-void-lookups", "multiple-records", "include-no-record",
                             "loop", "syntax-error", "mx-too-many-hosts"})


def _where(path: tuple[str, ...]) -> str:
    return " > ".join(path)


def _effective_chain(root: Node) -> list[Node]:
    """The root and the records it redirects to: their ``all`` decides the domain's default."""
    chain, node = [root], root
    while node.parsed is not None and node.parsed.effective_redirect is not None:
        child = next((c for c in node.children if c.by_redirect), None)
        if child is None:
            break
        chain.append(child)
        node = child
    return chain


def tree_findings(root: Node, *, warn_lookups: int = 9) -> list[Finding]:
    out: list[Finding] = []
    add = out.append
    effective = {id(n) for n in _effective_chain(root)}
    for node, path in root.walk_paths():
        where = _where(path)
        out.extend(_node_status_findings(node, where, is_root=node is root))
        if node.parsed is None:
            continue
        record = node.parsed
        if len(node.record.encode()) > RECORD_BYTES_LIMIT:
            add(Finding("record-too-long", "warning",
                        f"{node.name}: record is {len(node.record.encode())} bytes (keep it under "
                        f"{RECORD_BYTES_LIMIT} so the answer fits a 512-byte UDP reply)", where))
        seen: dict[str, str] = {}
        for term in record.terms:
            key = term.render().lower()
            if key in seen:
                add(Finding("duplicate-term", "warning", f"{node.name}: {term.render()} appears twice", where,
                            term.render()))
            seen[key] = term.render()
        if record.ignored:
            ignored = " ".join(m.render() for m in record.ignored)
            add(Finding("terms-after-all", "warning", f"{node.name}: {ignored} after {record.all.render()} is never "
                        "evaluated (RFC 7208 §5.1): move it before 'all' or remove it", where, ignored))
        for mech in record.reachable:
            text = mech.render()
            if mech.kind == "ptr":
                add(Finding("ptr-used", "warning", f"{node.name}: {text} — ptr is deprecated (RFC 7208 §5.5);"
                            " list the senders' addresses instead", where, text))
            if mech.kind == "all" and mech.result == "pass":
                add(Finding("permissive-all", "error", f"{node.name}: {text} authorises every host on the "
                            "internet", where, text))
            elif mech.kind == "all" and mech.result == "neutral" and id(node) in effective:
                add(Finding("permissive-all", "warning", f"{node.name}: {text} gives no protection: "
                            "unlisted senders get neutral", where, text))
            if mech.network is not None and mech.result == "pass" and \
                    mech.network.prefixlen <= WIDE_PREFIX[mech.network.version]:
                add(Finding("permissive-all", "warning", f"{node.name}: {text} authorises "
                            f"{mech.network.num_addresses:,} addresses", where, text))
        if record.all is not None and record.redirect is not None:
            add(Finding("redirect-ignored", "warning", f"{node.name}: {record.redirect.render()} is never used "
                        f"because the record has {record.all.render()} (RFC 7208 §6.1)", where,
                        record.redirect.render()))
        if record.all is None and record.redirect is None and id(node) in effective:
            add(Finding("no-all", "warning", f"{node.name}: no 'all' and no 'redirect': unlisted senders get "
                        "neutral; end the record with -all or ~all", where))
        for info in node.terms:
            if info.error:
                add(Finding("temporary-failure", "error", f"{info.term}: {info.error}", where, info.term))
            if info.mx_hosts > MX_LIMIT:
                add(Finding("mx-too-many-hosts", "error", f"{info.term}: {info.mx_hosts} MX records (an mx term "
                            f"may look at {MX_LIMIT}): permerror", where, info.term))
            if info.macro:
                void = " and, for clients whose name does not exist, one void lookup" if info.voids4 else ""
                add(Finding("macro-term", "info", f"{info.term}: contains macros; counted as one lookup{void}, "
                            "resolved per message", where, info.term))
    out.extend(_limit_findings(root, warn_lookups))
    out.extend(_redundant_ranges(root))
    return out


def _node_status_findings(node: Node, where: str, *, is_root: bool) -> list[Finding]:
    if node.status == "ok":
        return []
    if node.status == "temperror":
        return [Finding("temporary-failure", "error", f"{node.name}: {node.error}; could not check", where)]
    if node.status == "multiple-records":
        return [Finding("multiple-records", "error", f"{node.name} publishes {len(node.candidates)} SPF "
                        "records; receivers return permerror. Merge them into one.", where)]
    if node.status == "syntax-error":
        return [Finding("syntax-error", "error", f"{node.name}: {node.error}", where)]
    if node.status == "loop":
        return [Finding("loop", "error", node.error or f"{node.name} includes itself", where)]
    if node.status == "truncated":
        return [Finding("too-many-lookups", "error", f"{node.name}: {node.error}", where)]
    # no-record / invalid
    if is_root:
        return [Finding("no-record", "error", f"{node.name} has no SPF record: receivers cannot tell its "
                        "senders from forgers", where)]
    kind = "redirect target" if node.by_redirect else "included domain"
    return [Finding("include-no-record", "error", f"{kind} {node.name}: {node.error}; receivers return permerror",
                    where)]


def _limit_findings(root: Node, warn_lookups: int) -> list[Finding]:
    out = []
    lookups = root.total_lookups
    if lookups > LOOKUP_LIMIT:
        out.append(Finding("too-many-lookups", "error", f"{lookups} DNS-querying terms (limit {LOOKUP_LIMIT}): "
                           "receivers return permerror once the 11th is reached", root.name))
    elif lookups >= warn_lookups:
        out.append(Finding("near-lookup-limit", "warning", f"{lookups} of {LOOKUP_LIMIT} DNS-querying terms "
                           "used: one more include breaks the record", root.name))
    return out + _void_findings(root)


def void_sources(root: Node, version: int) -> list[str]:
    """Where the void lookups of an IPv4 (4) or IPv6 (6) sender's evaluation come from, term by term."""
    out = []
    for node in root.walk():
        for info in node.terms:
            reasons = info.void4 if version == 4 else info.void6
            if reasons:
                counted = {r: reasons.count(r) for r in reasons}
                out.append(f"{info.term}: " + ", ".join(r + (f" (×{n})" if n > 1 else "") for r, n in counted.items()))
    return out


def _void_findings(root: Node) -> list[Finding]:
    v4, v6 = root.total_voids4, root.total_voids6
    if v4 > VOID_LIMIT:  # every receiver that enforces the limit counts these (RFC 7208 §4.6.4)
        also = f" ({v6} for IPv6 senders)" if v6 != v4 else ""
        return [Finding("too-many-void-lookups", "error", f"{v4} void lookups for IPv4 senders{also} (limit "
                        f"{VOID_LIMIT}): receivers return permerror — {'; '.join(void_sources(root, 4))}", root.name)]
    if v6 > VOID_LIMIT:
        return [Finding("too-many-void-lookups", "warning", ipv6_void_message(root), root.name)]
    near = [family for family, n in (("IPv4", v4), ("IPv6", v6)) if n == VOID_LIMIT]
    if near:
        return [Finding("near-void-limit", "warning", f"{VOID_LIMIT} of {VOID_LIMIT} void lookups for "
                        f"{' and '.join(near)} senders: one more host without an address breaks the record — "
                        f"{'; '.join(void_sources(root, 4 if near[0] == 'IPv4' else 6))}", root.name)]
    return []


def ipv6_void_message(root: Node) -> str:
    """An IPv6-only void problem, said the same way by ``check`` and ``fix``: who is hit, who is not, the fixes."""
    return (f"IPv6 senders: {root.total_voids6} void lookups (limit {VOID_LIMIT}; IPv4 senders "
            f"{root.total_voids4}) — {'; '.join(void_sources(root, 6))}. Permerror for mail from IPv6 addresses at "
            f"{', '.join(receivers.STRICT)}; not at {', '.join(receivers.LENIENT)}. "
            f"Fixes that work everywhere: {'; or '.join(receivers.IPV6_VOID_FIXES)}")


def _effective_ranges(node: Node, qualifier: str | None, path: tuple[str, ...]):
    """(path, term text, network, effective result) for every ip4/ip6 term that can match."""
    path = (*path, node.via or node.name)
    if node.parsed is None:
        return
    for mech in node.parsed.reachable:
        if mech.network is not None:
            if qualifier is None:
                yield path, node, mech.render(), mech.network, mech.result
            elif mech.result == "pass":  # inside an include only a pass matches; the include's qualifier applies
                yield path, node, mech.render(), mech.network, qualifier
    for info in node.terms:
        if info.child is None:
            continue
        if info.child.by_redirect:
            yield from _effective_ranges(info.child, qualifier, path)
        else:
            result = info.ref.result if isinstance(info.ref, Mechanism) else QUALIFIER_RESULTS[""]
            yield from _effective_ranges(info.child, result if qualifier is None else qualifier, path)


def _redundant_ranges(root: Node) -> list[Finding]:
    """ip4/ip6 terms of the domain's own records already covered by other terms with the same result."""
    ranges = list(_effective_ranges(root, None, ()))
    out = []
    for i, (path, node, text, network, result) in enumerate(ranges):
        if not within(node.name, root.name):
            continue
        # an identical range counts as covering only when it comes first: the later copy is the redundant one
        others = [(p, t, n) for j, (p, _, t, n, r) in enumerate(ranges)
                  if j != i and r == result and n.version == network.version and (n != network or j < i)]
        version = network.version
        if others and IPSet.of(version, [network]).issubset(IPSet.of(version, [n for _, _, n in others])):
            covering = ", ".join(sorted({f"{t} ({_where(p)})" for p, t, n in others if n.overlaps(network)}))
            out.append(Finding("redundant-range", "warning", f"{text} is already authorised by {covering}",
                               _where(path), text))
    return out


def dmarc_findings(domain: str, summary: DmarcSummary) -> list[Finding]:
    where = f"_dmarc.{summary.record_domain or domain}"
    if summary.error and not summary.present:
        if summary.temporary:
            return [Finding("temporary-failure", "error", f"DMARC lookup failed: {summary.error}", where)]
        return [Finding("dmarc-missing", "warning", f"{domain}: {summary.error}", where)]
    if not summary.present:
        return [Finding("dmarc-missing", "warning", f"{domain} has no DMARC record: receivers get no policy "
                        "and the owner gets no reports", where)]
    if summary.policy == "none":
        return [Finding("dmarc-policy-none", "warning", f"DMARC p=none at {where}: mail that fails SPF and DKIM "
                        "is still delivered; move to quarantine or reject once reports are clean", where)]
    if summary.subdomain_policy == "none":  # RFC 7489 §6.3: sp= applies to every subdomain, existing or not
        return [Finding("dmarc-subdomain-policy-none", "warning", f"DMARC p={summary.policy} but sp=none at "
                        f"{where}: mail from any subdomain of {domain} — which anyone can invent — is delivered "
                        "even when it fails; remove sp=none or set sp=reject", where)]
    return []


def parked_findings(domain: str, record: str | None, dmarc: DmarcSummary | None,
                    mx: list[tuple[int, str]] | None) -> list[Finding]:
    """A domain that sends and receives no mail, locked down (M3AAWG's parked-domain practice): SPF exactly
    ``v=spf1 -all`` (RFC 7208), DMARC ``p=reject`` with no weaker ``sp=`` (RFC 7489), a null MX (RFC 7505: one MX
    record, preference 0, exchange "."). One finding listing everything missing."""
    missing = []
    spf_locked = record is not None and " ".join(record.lower().split()) == "v=spf1 -all"
    if record is None:
        missing.append("no SPF record (publish v=spf1 -all)")
    elif not spf_locked:
        missing.append(f"SPF is {record!r}, not 'v=spf1 -all' (it authorises senders)")
    if dmarc is not None:
        if not dmarc.present:
            missing.append("no DMARC record (publish v=DMARC1; p=reject)")
        elif dmarc.policy != "reject" or dmarc.subdomain_policy not in (None, "reject"):
            missing.append(f"DMARC p={dmarc.policy}" + (f" sp={dmarc.subdomain_policy}" if dmarc.subdomain_policy
                                                        else "") + ", not p=reject")
        elif dmarc.pct not in (None, 100):
            missing.append(f"DMARC pct={dmarc.pct}: reject applies to part of the mail only")
    if mx is not None and not (len(mx) == 1 and mx[0][0] == 0 and mx[0][1] in ("", ".")):  # RFC 7505 §3
        hosts = ", ".join(f"{pref} {host or '.'}" for pref, host in sorted(mx))
        missing.append(f"MX {hosts}: not the null MX 'MX 0 .' (RFC 7505)" if mx else
                       "no MX record: senders fall back to its A/AAAA record (publish the null MX 'MX 0 .')")
    if not missing:
        return []
    return [Finding("parked-not-locked", "warning" if spf_locked else "error",
                    f"{domain} is parked but not locked down: " + "; ".join(missing), domain)]
