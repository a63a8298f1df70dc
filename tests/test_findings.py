"""Every finding code of ``check``, from in-memory zones (the Knot tests cover the same over real DNS)."""

from __future__ import annotations

import re

import pytest

from spfguard.findings import CODES
from tests.helpers import codes, run_audit, zone


def find(report, code):
    return [f for f in report.findings if f.code == code]


def test_ptr_duplicate_and_long_records():
    long_record = "v=spf1 " + " ".join(f"ip4:192.0.2.{n}" for n in range(1, 40)) + " ptr -all"
    dns = zone(**{"example.com": ["v=spf1 ptr a a ip4:192.0.2.1 -all", ("A", "192.0.2.1")],
                  "long.example.com": [long_record]})
    report = run_audit("example.com", dns, dmarc=False)
    assert [f.term for f in find(report, "ptr-used")] == ["ptr"]
    assert [f.term for f in find(report, "duplicate-term")] == ["a"]
    long = run_audit("long.example.com", dns, dmarc=False)
    assert "record-too-long" in codes(long) and "record-too-long" not in codes(report)


def test_redundant_ranges_in_own_records_only():
    dns = zone(**{"example.com": ["v=spf1 ip4:40.107.1.0/24 ip4:192.0.2.0/24 ip4:192.0.2.0/25 ~ip4:198.51.100.0/24 "
                                  "include:vendor.example.net -all"],
                  "vendor.example.net": ["v=spf1 ip4:40.107.0.0/16 ip4:198.51.100.0/24 ip4:40.107.5.0/24 -all"]})
    report = run_audit("example.com", dns, dmarc=False)
    redundant = {f.term: f.message for f in find(report, "redundant-range")}
    # 40.107.1.0/24 is inside the vendor's /16; 192.0.2.0/25 inside our own /24; the ~ range has another result;
    # the vendor's own 40.107.5.0/24 is not ours to fix.
    assert set(redundant) == {"ip4:40.107.1.0/24", "ip4:192.0.2.0/25"}
    assert "ip4:40.107.0.0/16" in redundant["ip4:40.107.1.0/24"]


@pytest.mark.parametrize("record, expected", [
    # a range with another result between the range and its later container: removing it changes the result
    ("v=spf1 ip4:10.0.0.5 -ip4:10.0.0.0/24 ip4:10.0.0.0/16 ~all", set()),
    # ... unless that range does not touch it
    ("v=spf1 ip4:10.0.0.5 -ip4:10.0.9.0/24 ip4:10.0.0.0/16 ~all", {"ip4:10.0.0.5"}),
    # a term that may match anyone with another result (an a: with -) between them
    ("v=spf1 ip4:10.0.0.5 -a:h.example.com ip4:10.0.0.0/16 ~all", set()),
    # the container first: the range is never the first match, whatever comes between
    ("v=spf1 ip4:10.0.0.0/16 -a:h.example.com ip4:10.0.0.5 ~all", {"ip4:10.0.0.5"}),
    # a non-pass term inside an include ends the include without a match (§5.2): its later pass does not cover
    ("v=spf1 ip4:10.0.0.5 include:inc.example.com ~all", set()),
    # the same address twice: the later copy
    ("v=spf1 ip4:10.0.0.5 ip4:10.0.0.5/32 ~all", {"ip4:10.0.0.5/32"}),
])
def test_a_redundant_range_can_be_removed_without_changing_any_result(record, expected):
    dns = zone(**{"example.com": [record], "h.example.com": [("A", "192.0.2.1")],
                  "inc.example.com": ["v=spf1 -ip4:10.0.0.0/24 ip4:10.0.0.0/16 -all"]})
    report = run_audit("example.com", dns, dmarc=False)
    assert {f.term for f in find(report, "redundant-range")} == expected


def test_flagged_ranges_can_all_go_together():
    """256 /24s fill a /16: the /24s are flagged (inside the /16), not the /16 as well."""
    terms = " ".join(f"ip4:10.0.{n}.0/24" for n in range(256))
    report = run_audit("example.com", zone(**{"example.com": [f"v=spf1 {terms} ip4:10.0.0.0/16 -all"]}), dmarc=False)
    flagged = {f.term for f in find(report, "redundant-range")}
    assert len(flagged) == 256 and "ip4:10.0.0.0/16" not in flagged


def test_no_all_redirect_ignored_and_loop():
    dns = zone(**{"a.example.com": ["v=spf1 ip4:192.0.2.1"],
                  "b.example.com": ["v=spf1 -all redirect=a.example.com"],
                  "c.example.com": ["v=spf1 include:d.example.com -all"],
                  "d.example.com": ["v=spf1 include:c.example.com -all"]})
    assert "no-all" in codes(run_audit("a.example.com", dns, dmarc=False))
    assert "redirect-ignored" in codes(run_audit("b.example.com", dns, dmarc=False))
    loop = run_audit("c.example.com", dns, dmarc=False)
    assert "loop" in codes(loop) and loop.verdict == "permerror"


def test_include_without_record_and_syntax_error_position():
    dns = zone(**{"example.com": ["v=spf1 include:gone.example.com include:bad.example.com -all"],
                  "gone.example.com": ["some other txt"],
                  "bad.example.com": ["v=spf1 ip4:192.0.2.1/40 -all"]})
    report = run_audit("example.com", dns, dmarc=False)
    assert find(report, "include-no-record")[0].where == "example.com > include:gone.example.com"
    assert "at character 21" in find(report, "syntax-error")[0].message


def test_near_limit_threshold():
    record = "v=spf1 " + " ".join(f"a:h{n}.example.com" for n in range(8)) + " -all"
    dns = zone(**{"example.com": [record], **{f"h{n}.example.com": [("A", "192.0.2.1"), ("AAAA", "2001:db8::1")]
                                              for n in range(8)}})
    assert "near-lookup-limit" not in codes(run_audit("example.com", dns, dmarc=False))
    assert "near-lookup-limit" in codes(run_audit("example.com", dns, dmarc=False, warn_lookups=8))


def test_dmarc_findings():
    dns = zone(**{"example.com": ["v=spf1 -all"], "sub.example.com": ["v=spf1 -all"],
                  "_dmarc.example.com": ["v=DMARC1; p=none; pct=50"],
                  "other.example.org": ["v=spf1 -all"], "_dmarc.other.example.org": ["unrelated"]})
    report = run_audit("example.com", dns)
    assert report.dmarc.policy == "none" and report.dmarc.pct == 50 and not report.dmarc.rua
    assert "dmarc-policy-none" in codes(report)
    sub = run_audit("sub.example.com", dns)  # falls back to the organisational domain (RFC 7489 §6.6.3)
    assert sub.dmarc.record_domain == "example.com" and "dmarc-missing" not in codes(sub)
    assert "dmarc-missing" in codes(run_audit("other.example.org", dns))


def test_every_code_is_documented_in_the_readme():
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", readme, re.M))
    assert set(CODES) <= documented


@pytest.mark.parametrize("code", sorted(CODES))
def test_code_names_are_stable_kebab_case(code):
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code)


def test_every_code_has_a_fix_hint():
    from spfguard.findings import CODES, HINTS

    assert set(HINTS) >= set(CODES)
