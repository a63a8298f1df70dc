"""Two (or more) SPF records at one name are a permerror for every sender (RFC 7208 §4.5). ``fix`` proposes the
merge: one record whose pass set is exactly the union of what each record authorised — proven symbolically
and by check_host() on the boundaries of every range — with the verdict changes listed as intended."""

from __future__ import annotations

from spfguard.dns.overlay import OverlayDns
from spfguard.errors import PlanError
from spfguard.fix.plan import Difference
from spfguard.fix.proof import sample_addresses
from spfguard.ipset import IPSet
from spfguard.policy import decide, universe
from spfguard.spf.errors import SpfSyntaxError
from spfguard.spf.evaluator import check_host_async
from spfguard.spf.parser import parse_record
from spfguard.spf.terms import QUALIFIER_RESULTS, Mechanism, Modifier, Record
from spfguard.tree import walk_tree


async def merge_records(domain: str, view, candidates: tuple[str, ...]) -> tuple[str, list[str], list[Difference],
                                                                                dict[int, IPSet], dict]:
    """The merged record, its action, its intended differences, the addresses they cover, and its proof."""
    records = []
    for text in candidates:
        try:
            records.append(parse_record(text))
        except SpfSyntaxError as err:
            raise PlanError(f"{domain} publishes {len(candidates)} SPF records and one does not parse ({err}): "
                            "merge them by hand") from None
    if any(r.redirect is not None or r.exp is not None for r in records):
        raise PlanError(f"{domain} publishes {len(candidates)} SPF records with redirect= or exp=: merge them by hand "
                        "(which one's redirect or explanation should win is yours to say)")
    alls = {QUALIFIER_RESULTS[r.all.qualifier] if r.all else "neutral" for r in records}
    all_result = alls.pop() if len(alls) == 1 else "softfail"
    terms: list = []
    seen: set[str] = set()
    for record in records:
        for mech in record.reachable:
            key = mech.render().lower()
            if mech.kind != "all" and key not in seen:
                seen.add(key)
                terms.append(mech)
    terms += [t for r in records for t in r.terms if isinstance(t, Modifier)]
    qualifier = {"pass": "+", "fail": "-", "softfail": "~", "neutral": "?"}[all_result]
    terms.append(Mechanism("all", "" if qualifier == "+" else qualifier))
    merged = Record(tuple(terms)).render()

    policies = [decide(await walk_tree(domain, OverlayDns(view, {domain: [text]}))) for text in candidates]
    union = {v: IPSet(v) for v in (4, 6)}
    for policy in policies:
        for v in (4, 6):
            union[v] = union[v] | policy.passes(v)
    merged_view = OverlayDns(view, {domain: [merged]})
    new = decide(await walk_tree(domain, merged_view))
    symbolic = {v: (new.passes(v) - union[v]) | (union[v] - new.passes(v)) for v in (4, 6)}
    samples = sample_addresses([union[4], union[6], new.passes(4), new.passes(6)])
    mismatches = []
    for ip in samples:
        result = await check_host_async(ip, domain, f"postmaster@{domain}", helo=domain, dns=merged_view, timestamp=0)
        if (result.result == "pass") != (ip in union[ip.version]):
            mismatches.append({"ip": str(ip), "after": result.result})
    if mismatches or any(symbolic.values()):
        raise PlanError(f"{domain} publishes {len(candidates)} SPF records that no single record can merge exactly "
                        "(one authorises every host, or they disagree about the same senders): merge them by hand")
    proof = {"samples": len(samples), "unintended_sample_differences": [], "unintended_ranges": []}
    cidrs = [str(n) for v in (4, 6) for n in union[v].cidrs()]
    differences = [Difference(cidrs[:4] + (["…"] if len(cidrs) > 4 else []), "permerror", "pass",
                              f"the senders either of the {len(candidates)} records authorised"),
                   Difference(["every other address"], "permerror", all_result, "unlisted senders")]
    action = (f"merge the {len(candidates)} SPF records into one (RFC 7208 §4.5: several are a permerror for every "
              f"sender); it authorises exactly what either one did, and unlisted senders get {all_result}")
    intended = {v: universe(v) for v in (4, 6)}  # every verdict was permerror
    return merged, [action], differences, intended, proof
