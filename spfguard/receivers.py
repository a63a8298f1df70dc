"""How receivers apply the void-lookup limit (RFC 7208 §4.6.4) to an IPv6 sender whose evaluation reaches an
``a``/``mx`` host with A but no AAAA records. The RFC does not say whether such a lookup is "void"; receivers
disagree, so a finding that only this rule trips names who returns permerror and who does not.

Sources: pyspf is exercised by this repository's differential test (tests/test_differential_pyspf.py); the
others are from the differential run recorded in issue #10 (their source code, each disagreement reproduced
against a real Knot server). Microsoft 365 and Google publish nothing about their rule.
"""

# count an empty AAAA answer as void: permerror once an IPv6 sender's evaluation passes 2
STRICT = (
    "pyspf",
    "Mail::SPF (SpamAssassin, postfix-policyd-spf-perl, mtpolicyd)",
    "wttw/spf",
)
# do not (mailauth counts a host as void only when both its A and AAAA answers are empty)
LENIENT = (
    "libspf2 (Exim's default)",
    "rspamd",
    "mailauth (since late 2025)",
    "blitiri/go-spf (chasquid)",
    "mox",
    "mileusna/spf",
    "Stalwart",
    "Haraka",
)
UNKNOWN = ("Microsoft 365", "Google")

# what removes an IPv6-only void problem at every receiver
IPV6_VOID_FIXES = (
    "put the ip4/ip6 terms first, so that your real senders match before the a/mx terms are looked up",
    "replace the a/mx term by its addresses with `spfguard fix --pin TERM` (it then stops following the host)",
    "give the hosts AAAA records",
)
