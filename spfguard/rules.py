"""The finding rules over a walked SPF tree (stable codes: :mod:`spfguard.findings`). Pure functions."""

from __future__ import annotations

import bisect

from spfguard import receivers
from spfguard.dmarc import DmarcSummary
from spfguard.dns.base import within
from spfguard.findings import Finding, deduplicated
from spfguard.spf.limits import LOOKUP_LIMIT, MX_LIMIT, RECORD_BYTES_LIMIT, VOID_LIMIT
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
        if node.unreached:
            unreached = " ".join(node.unreached)
            add(Finding("terms-after-all", "warning", f"{node.name}: {unreached} is never evaluated: an earlier term "
                        "matches every client (RFC 7208 §4.6.2: the first match ends the evaluation); move it "
                        "before that term or remove it", where, unreached))
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
    return deduplicated(out)


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
    for node in root.reached(version):
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


SKIP = "skip"  # inside an include, a non-pass match ends the include without a match (RFC 7208 §5.2)


def _entries(node: Node, qualifier: str | None, path: tuple[str, ...]):
    """Every reachable mechanism in evaluation order (RFC 7208 §4.6.2: left to right, an include's terms at its
    place), as (path, node, term text, network or None, the result a match gives). A mechanism that is not
    ip4/ip6 has no network: it may match any client."""
    path = (*path, node.via or node.name)
    if node.parsed is None:
        return
    children = {id(info.ref): info.child for info in node.terms if info.child is not None}
    for mech in node.parsed.reachable:
        child = children.get(id(mech))
        if child is not None:
            yield from _entries(child, mech.result if qualifier is None else qualifier, path)
            continue
        result = mech.result if qualifier is None else (qualifier if mech.result == "pass" else SKIP)
        yield path, node, mech.render(), mech.network, result
    redirect = node.parsed.effective_redirect
    child = children.get(id(redirect)) if redirect is not None else None
    if child is not None:  # §6.1: the redirect target's result is the record's
        yield from _entries(child, qualifier, path)


def _redundant_ranges(root: Node) -> list[Finding]:
    """ip4/ip6 terms of the domain's own records that no client needs: another range with the same result
    already matches all of their addresses first, or matches them later with nothing between that could give
    another result. The flagged ranges can all be removed together."""
    entries = list(_entries(root, None, ()))
    out = []
    for version in (4, 6):
        for i, j in _covered(entries, version).items():
            path, node, text, _, _ = entries[i]
            if within(node.name, root.name):
                out.append(Finding("redundant-range", "warning", f"{text} is already authorised by "
                                   f"{entries[j][2]} ({_where(entries[j][0])})", _where(path), text))
    return out


def _covered(entries: list, version: int) -> dict[int, int]:
    """Redundant range index -> the index of the range that covers it, for one address family. Two CIDR blocks
    are nested or disjoint, so a range covered by others lies inside one of them, or is the union of smaller ones;
    flagging only inner ranges (and later copies) keeps the flagged set removable together — 256 /24s and the /16
    they fill report the /24s, never all 257. One sort and a stack find each range's containers; the terms between
    a range and its container that could give another result are few, and only those are looked at."""
    ranges = [i for i, e in enumerate(entries) if e[3] is not None and e[3].version == version]
    spans = {i: (int(entries[i][3].network_address), int(entries[i][3].broadcast_address)) for i in ranges}
    first_of: dict[tuple[int, int, str], int] = {}
    for i in ranges:
        first_of.setdefault((*spans[i], entries[i][4]), i)
    # others: terms whose match gives another result than some range's, or may match anything (a, mx, exists...)
    others = [i for i, e in enumerate(entries) if e[3] is None or e[3].version == version]

    def clear(i: int, lo: int, hi: int) -> bool:
        """No term in [lo, hi) can give an address of range i another result than i's."""
        result, (a, b) = entries[i][4], spans[i]
        for k in others[bisect.bisect_left(others, lo):bisect.bisect_left(others, hi)]:
            if k != i and entries[k][4] != result and (k not in spans or (spans[k][0] <= b and a <= spans[k][1])):
                return False
        return True

    containers: dict[int, list[int]] = {}
    stack: list[int] = []  # indexes of the blocks containing the current one, the outermost first
    for i in sorted(first_of.values(), key=lambda i: (spans[i][0], -spans[i][1])):
        while stack and spans[stack[-1]][1] < spans[i][0]:
            stack.pop()
        containers[i] = list(stack)
        stack.append(i)
    out: dict[int, int] = {}
    for i in ranges:
        if entries[i][4] == SKIP:
            continue
        first = first_of[(*spans[i], entries[i][4])]
        candidates = [first] if first != i else []
        candidates += [j for j in containers.get(first, []) if entries[j][4] == entries[i][4]]
        for j in candidates:
            # j first: i is never the first match; j after: nothing between gives i's addresses another result
            if (j < i and clear(i, 0, j)) or (j > i and clear(i, i + 1, j)):
                out[i] = j
                break
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
