"""Known bugs of other SPF tools (../shared/design/REGRESSIONS.md), pinned for the parser, evaluator and walk."""

from __future__ import annotations

from spfguard.spf import parse_record
from spfguard.spf.txt import split_strings
from tests.helpers import codes, result, run_audit, run_walk, zone

TEN_INCLUDES = " ".join(f"include:i{n}.example.com" for n in range(10))
EMPTY_INCLUDES = {f"i{n}.example.com": ["v=spf1 ip4:198.51.100.1 -all"] for n in range(10)}


def test_txt_strings_are_joined_without_separator():
    dns = zone()
    dns.add("example.com", "TXT", ["v=spf1 ip4:192.0.2", ".1 -all"])
    assert result("192.0.2.1", "example.com", dns).result == "pass"
    assert run_walk("example.com", dns).record == "v=spf1 ip4:192.0.2.1 -all"


def test_all_is_not_a_lookup_and_qualified_terms_are():
    dns = zone(**{"example.com": ["v=spf1 -include:a.example.com ?a ~mx +exists:x.example.com -all"],
                  "a.example.com": ["v=spf1 -all"]})
    assert run_walk("example.com", dns).total_lookups == 4


def test_all_is_not_matched_inside_a_domain():
    record = parse_record("v=spf1 include:_spf.allmail.example")
    assert record.all is None
    dns = zone(**{"example.com": ["v=spf1 include:_spf.allmail.example"],
                  "_spf.allmail.example": ["v=spf1 ip4:192.0.2.1 -all"]})
    assert "no-all" in codes(run_audit("example.com", dns))


def test_the_same_include_twice_counts_twice():
    dns = zone(**{"example.com": ["v=spf1 include:x.example.com include:x.example.com -all"],
                  "x.example.com": ["v=spf1 include:y.example.com -all"],
                  "y.example.com": ["v=spf1 ip4:192.0.2.1 -all"]})
    assert run_walk("example.com", dns).total_lookups == 4
    assert result("198.51.100.9", "example.com", dns).lookups == 4


def test_trailing_a_ptr_or_mx_as_the_11th_lookup_is_permerror():
    for last in ("a", "ptr", "mx"):
        dns = zone(**{"example.com": [f"v=spf1 {TEN_INCLUDES} {last} -all", ("A", "192.0.2.1"),
                                      ("MX", (10, "mx.example.com"))], "mx.example.com": [("A", "192.0.2.2")]},
                   **EMPTY_INCLUDES)
        assert result("203.0.113.1", "example.com", dns).result == "permerror", last
        report = run_audit("example.com", dns, dmarc=False)
        assert report.lookups == 11 and "too-many-lookups" in codes(report) and report.verdict == "permerror"


def test_a_and_mx_keep_their_cidr_lengths():
    dns = zone(**{"example.com": ["v=spf1 a:host.example.com/24 -all"],
                  "dual.example.com": ["v=spf1 a:host.example.com/24//64 -all"],
                  "mx.example.com": ["v=spf1 mx/28 -all", ("MX", (10, "m1.example.com")),
                                     ("MX", (20, "m2.example.com"))],
                  "host.example.com": [("A", "192.0.2.1"), ("AAAA", "2001:db8::1")],
                  "m1.example.com": [("A", "198.51.100.1")], "m2.example.com": [("A", "203.0.113.1")]})
    assert result("192.0.2.200", "example.com", dns).result == "pass"
    assert result("192.0.3.1", "example.com", dns).result == "fail"
    assert result("2001:db8::1", "example.com", dns).result == "pass"  # no //: the default /128
    assert result("2001:db8::2", "example.com", dns).result == "fail"
    assert result("2001:db8::ffff", "dual.example.com", dns).result == "pass"
    assert result("192.0.2.77", "dual.example.com", dns).result == "pass"
    assert result("198.51.100.15", "mx.example.com", dns).result == "pass"
    assert result("203.0.113.14", "mx.example.com", dns).result == "pass"
    assert result("203.0.113.16", "mx.example.com", dns).result == "fail"


def test_mx_counts_one_lookup_and_at_most_10_mx_records():
    hosts = {f"m{n}.example.com": [("A", f"192.0.2.{n}")] for n in range(11)}
    ten = zone(**{"example.com": ["v=spf1 mx -all", *[("MX", (n, f"m{n}.example.com")) for n in range(10)]]},
               **hosts)
    assert result("192.0.2.9", "example.com", ten).result == "pass"
    assert result("192.0.2.9", "example.com", ten).lookups == 1
    eleven = zone(**{"example.com": ["v=spf1 mx -all", *[("MX", (n, f"m{n}.example.com")) for n in range(11)]]},
                  **hosts)
    assert result("192.0.2.1", "example.com", eleven).result == "permerror"
    report = run_audit("example.com", eleven, dmarc=False)
    assert report.lookups == 1 and "mx-too-many-hosts" in codes(report)


def test_void_lookups_are_counted_per_address_family():
    dns = zone(**{"example.com": ["v=spf1 a:h1.example.com a:h2.example.com a:h3.example.com -all"],
                  **{f"h{n}.example.com": [("A", f"192.0.2.{n}")] for n in (1, 2, 3)}})
    report = run_audit("example.com", dns, dmarc=False)
    assert (report.voids4, report.voids6) == (0, 3)
    assert report.verdict == "permerror for IPv6 senders"
    assert any(f.code == "too-many-void-lookups" and "IPv6" in f.message for f in report.findings)
    assert result("198.51.100.1", "example.com", dns).result == "fail"
    assert result("2001:db8::1", "example.com", dns).result == "permerror"
    nx = zone(**{"example.com": ["v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com -all"]})
    assert result("192.0.2.1", "example.com", nx).result == "permerror"  # NXDOMAIN is void too
    assert run_audit("example.com", nx, dmarc=False).voids4 == 3


def test_exp_is_neither_counted_nor_resolved_in_a_walk():
    dns = zone(**{"example.com": ["v=spf1 -all exp=why.example.com"], "why.example.com": ["not allowed"]})
    tree = run_walk("example.com", dns)
    assert tree.total_lookups == 0
    assert ("why.example.com", "TXT") not in dns.queries


def test_redirect_ignored_beside_all_and_target_all_applies():
    dns = zone(**{"ignored.example.com": ["v=spf1 -all redirect=target.example.com"],
                  "followed.example.com": ["v=spf1 ip4:192.0.2.1 redirect=target.example.com"],
                  "target.example.com": ["v=spf1 -all"]})
    tree = run_walk("ignored.example.com", dns)
    assert tree.total_lookups == 0 and tree.children == []
    assert "redirect-ignored" in codes(run_audit("ignored.example.com", dns, dmarc=False))
    assert result("203.0.113.1", "followed.example.com", dns).result == "fail"  # not neutral
    assert run_walk("followed.example.com", dns).total_lookups == 1


def test_multiple_records_and_spf10():
    dns = zone(**{"two.example.com": ["v=spf1 -all", "v=spf1 ~all"], "ten.example.com": ["v=spf10 -all"]})
    assert result("192.0.2.1", "two.example.com", dns).result == "permerror"
    assert "multiple-records" in codes(run_audit("two.example.com", dns, dmarc=False))
    assert result("192.0.2.1", "ten.example.com", dns).result == "none"
    assert "no-record" in codes(run_audit("ten.example.com", dns, dmarc=False))


def test_permissive_records_are_flagged():
    for text in ("v=spf1 +all", "v=spf1 ?all", "v=spf1 ip4:0.0.0.0/0 -all", "v=spf1 ip6:2000::/3 -all"):
        dns = zone(**{"example.com": [text]})
        assert "permissive-all" in codes(run_audit("example.com", dns, dmarc=False)), text
    dns = zone(**{"example.com": ["v=spf1 ip4:10.0.0.0/9 -all"]})
    assert "permissive-all" not in codes(run_audit("example.com", dns, dmarc=False))


def test_d_macro_inside_an_include_is_the_current_domain():
    dns = zone(**{"sender.example": ["v=spf1 include:inner.example.net -all"],
                  "inner.example.net": ["v=spf1 exists:%{d}.ok.example.org -all"],
                  "inner.example.net.ok.example.org": [("A", "127.0.0.2")]})
    assert result("192.0.2.1", "sender.example", dns).result == "pass"


def test_macro_terms_are_validated_counted_and_not_resolved_in_a_walk():
    dns = zone(**{"example.com": ["v=spf1 include:%{ir}.%{v}._spf.example.com exists:%{l}.x.example.com -all"]})
    report = run_audit("example.com", dns, dmarc=False)
    assert report.lookups == 2
    assert not any("%" in name for name, _ in dns.queries)
    assert codes(report).count("macro-term") == 2
    bad = zone(**{"example.com": ["v=spf1 include:%{q}.example.com -all"]})
    assert "syntax-error" in codes(run_audit("example.com", bad, dmarc=False))


def test_long_strings_are_split_at_255_bytes():
    text = "v=spf1 " + " ".join(f"ip4:192.0.2.{n}" for n in range(40)) + " -all"
    parts = split_strings(text)
    assert all(len(p.encode()) <= 255 for p in parts) and "".join(parts) == text and len(parts) == 3


def test_undecodable_bytes_are_a_finding_not_a_crash():
    dns = zone()
    dns.add("example.com", "TXT", [b"v=spf1 ip4:192.0.2.1 \xff\xfe -all"])
    assert result("192.0.2.1", "example.com", dns).result == "permerror"
    report = run_audit("example.com", dns, dmarc=False)
    assert any(f.code == "syntax-error" and "undecodable" in f.message for f in report.findings)


def test_dns_timeouts_are_temperror_never_no_record():
    dns = zone(**{"example.com": ["TIMEOUT"], "inc.example.com": ["v=spf1 include:example.com -all"]})
    assert result("192.0.2.1", "example.com", dns).result == "temperror"
    assert result("192.0.2.1", "inc.example.com", dns).result == "temperror"
    report = run_audit("example.com", dns, dmarc=False)
    assert "no-record" not in codes(report) and "temporary-failure" in codes(report)
    assert report.verdict == "could not check"
    assert "include-no-record" not in codes(run_audit("inc.example.com", dns, dmarc=False))
