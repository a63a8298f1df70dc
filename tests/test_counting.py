"""Issue #10: the worst-case counter agrees with receivers (and with spfguard's own eval).

Each test is the minimal zone of one counting bug; eval (check_host) is the reference for the same zone."""

from __future__ import annotations

import asyncio

from spfguard.fix.planner import FixOptions, plan_fix
from tests.helpers import codes, result, run_audit, zone


def finding(report, code):
    return next(f for f in report.findings if f.code == code)


def test_mechanisms_after_all_are_neither_counted_nor_followed():
    # RFC 7208 §5.1: every receiver says fail; no include-no-record, no permerror
    dns = zone(**{"example.com": ["v=spf1 -all include:nx.example"]})
    report = run_audit("example.com", dns, dmarc=False)
    assert report.lookups == 0 and report.verdict == "valid"
    assert "include-no-record" not in codes(report)
    assert finding(report, "terms-after-all").severity == "warning"
    assert result("192.0.2.9", "example.com", dns).result == "fail"


def test_eleven_a_terms_after_all_are_not_too_many_lookups():
    dns = zone(**{"example.com": ["v=spf1 ip4:192.0.2.1 ~all " + " ".join(["a"] * 11)]})
    report = run_audit("example.com", dns, dmarc=False)
    assert report.lookups == 0 and "too-many-lookups" not in codes(report) and report.verdict == "valid"
    assert result("198.51.100.1", "example.com", dns).result == "softfail"
    # nothing after all is a finding of its own either (ptr-used, permissive-all …)
    dns = zone(**{"example.com": ["v=spf1 -all ptr +all"]})
    assert codes(run_audit("example.com", dns, dmarc=False)) == ["terms-after-all"]


def test_duplicate_mx_exchanges_are_looked_up_twice():
    dns = zone(**{"example.com": ["v=spf1 a:nothere.example.com mx:m.example.com -all"],
                  "m.example.com": [("MX", (10, "gone.example.com")), ("MX", (20, "gone.example.com"))]})
    evaluation = result("192.0.2.9", "example.com", dns)
    assert evaluation.result == "permerror" and evaluation.void_lookups == 3
    report = run_audit("example.com", dns, dmarc=False)
    assert (report.voids4, report.voids6) == (3, 3) and report.verdict == "permerror"
    assert "gone.example.com does not exist (×2)" in finding(report, "too-many-void-lookups").message


def test_exists_with_macros_is_a_void_lookup_in_the_worst_case():
    # RFC erratum 6595's DNSBL example: every unlisted sender gets permerror
    record = "v=spf1 " + " ".join(f"exists:%{{ir}}.list{n}.example.org" for n in (1, 2, 3)) + " -all"
    dns = zone(**{"example.com": [record], "2.0.0.127.list1.example.org": [("A", "127.0.0.2")]})
    assert result("192.0.2.9", "example.com", dns).result == "permerror"
    report = run_audit("example.com", dns, dmarc=False)
    assert (report.lookups, report.voids4, report.voids6) == (3, 3, 3)
    assert report.verdict == "permerror" and finding(report, "too-many-void-lookups").severity == "error"
    assert result("127.0.0.2", "example.com", dns).result == "pass"  # the listed one still matches


def test_an_ipv4_error_is_not_labelled_ipv6_only():
    dns = zone(**{"example.com": ["v=spf1 include:missing.example.com a:h1.example.com a:h2.example.com "
                                  "a:h3.example.com -all"],
                  **{f"h{n}.example.com": [("A", f"192.0.2.{n}")] for n in (1, 2, 3)}})
    assert result("198.51.100.1", "example.com", dns).result == "permerror"
    report = run_audit("example.com", dns, dmarc=False)
    assert report.voids6 == 3 and report.verdict == "permerror"


def test_ipv6_only_void_problem_is_a_warning_that_names_receivers():
    dns = zone(**{"example.com": ["v=spf1 a:h1.example.com a:h2.example.com a:h3.example.com -all"],
                  **{f"h{n}.example.com": [("A", f"192.0.2.{n}")] for n in (1, 2, 3)}})
    assert result("2001:db8::1", "example.com", dns).result == "permerror"
    assert result("198.51.100.1", "example.com", dns).result == "fail"
    report = run_audit("example.com", dns, dmarc=False)
    assert report.verdict == "permerror for IPv6 senders"
    message = finding(report, "too-many-void-lookups").message
    assert finding(report, "too-many-void-lookups").severity == "warning"
    for name in ("pyspf", "Mail::SPF", "libspf2", "rspamd", "mailauth", "h1.example.com has no AAAA", "--pin"):
        assert name in message, name


def test_two_of_two_void_lookups_is_near_the_limit():
    dns = zone(**{"example.com": ["v=spf1 a:h1.example.com a:h2.example.com ip4:192.0.2.0/24 -all"],
                  **{f"h{n}.example.com": [("A", f"192.0.2.{n}")] for n in (1, 2)}})
    report = run_audit("example.com", dns, dmarc=False)
    assert "IPv6 senders" in finding(report, "near-void-limit").message
    assert report.verdict == "valid"


def test_single_label_targets_are_looked_up():
    # RFC 7208 §4.8 does not ask for two labels (only §4.3, for check_host()'s own domain)
    dns = zone(**{"example.com": ["v=spf1 exists:%{d1} -all"], "com": [("A", "127.0.0.2")]})
    assert result("192.0.2.9", "example.com", dns).result == "pass"
    report = run_audit("example.com", dns, dmarc=False)  # %{d} is known statically: resolved, not a macro
    assert "macro-term" not in codes(report) and report.voids4 == 0
    dns = zone(**{"example.com": ["v=spf1 exists:%{d1} -all"]})
    assert result("192.0.2.9", "example.com", dns).result == "fail"
    assert run_audit("example.com", dns, dmarc=False).voids4 == 1
    # an include of a single label is still check_host() of a non-domain: none, so permerror
    dns = zone(**{"example.com": ["v=spf1 include:%{d1} -all"], "com": ["v=spf1 +all"]})
    assert result("192.0.2.9", "example.com", dns).result == "permerror"


def test_fix_does_not_refuse_a_void_problem_the_record_already_has():
    hosts = {f"h{n}.example.com": [("A", f"192.0.2.{n}")] for n in (1, 2, 3, 4)}
    leaves = {f"v{n}.example.net": [f"v=spf1 ip4:198.51.{n}.0/24 -all"] for n in range(8)}
    record = ("v=spf1 a:h1.example.com a:h2.example.com a:h3.example.com a:h4.example.com "
              + " ".join(f"include:v{n}.example.net" for n in range(8)) + " -all")
    dns = zone(**{"example.com": [record]}, **hosts, **leaves)
    before = run_audit("example.com", dns, dmarc=False)
    assert before.lookups == 12 and before.verdict == "permerror"
    plan = asyncio.run(plan_fix("example.com", dns, FixOptions()))
    assert plan.lookups_after <= 10 and plan.proven
    assert plan.voids_after == (0, 4)
    (remaining,) = plan.remaining
    assert "IPv6 senders: 4 void lookups" in remaining and "h4.example.com has no AAAA" in remaining
    assert plan.to_json()["remaining_problems"] == plan.remaining
