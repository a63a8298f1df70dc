"""``spfguard check`` end to end against a real Knot DNS server (and a black-holing relay for timeouts)."""

from __future__ import annotations

import json
import subprocess
import sys
import time


def spfguard(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "spfguard.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_seed_domain_over_real_dns(knot):
    proc = spfguard("check", "aacn.org", "--nameserver", knot.address, "--format", "json", "--ip", "40.107.22.53")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["results"][0]
    assert result["lookups"] == 9 and (result["void_lookups"], result["void_lookups_ipv6"]) == (0, 2)
    assert result["evaluations"][0]["result"] == "pass"
    assert result["mx"] == ["us-smtp-inbound-1.mimecast.com", "us-smtp-inbound-2.mimecast.com"]
    assert result["dmarc"]["policy"] == "none"


def test_deep_tree(knot):
    proc = spfguard("check", "deep.spfguard.test", "--nameserver", knot.address, "--format", "json")
    result = json.loads(proc.stdout)["results"][0]
    depth, node = 0, result["tree"]
    while node["children"]:
        node, depth = node["children"][0], depth + 1
    assert depth == 4 and node["name"] == "l4.spfguard.test"
    # deep: include + a; l1: include + mx; l2: include + exists (macro); l3: include + a  -> 8
    assert result["lookups"] == 8
    l1 = result["tree"]["children"][0]
    mx = next(t for t in l1["terms"] if t["term"].startswith("mx:"))
    assert mx["mx_records"] == 2 and sorted(mx["addresses"]) == ["192.0.2.21", "192.0.2.22", "2001:db8::22"]
    assert mx["void_lookups"] == 0 and mx["void_lookups_ipv6"] == 1  # mx1 has no AAAA
    codes = [f["code"] for f in result["findings"]]
    assert "macro-term" in codes and proc.returncode == 0


def test_over_limit_tree_exits_1(knot):
    proc = spfguard("check", "over.spfguard.test", "--nameserver", knot.address)
    assert proc.returncode == 1
    assert "lookups 12/10" in proc.stdout and "too-many-lookups" in proc.stdout and "permerror" in proc.stdout


def test_ipv6_only_permerror(knot):
    proc = spfguard("check", "v6voids.spfguard.test", "--nameserver", knot.address, "--format", "json")
    result = json.loads(proc.stdout)["results"][0]
    assert (result["void_lookups"], result["void_lookups_ipv6"]) == (0, 3)
    # only strict receivers return permerror, only for IPv6 senders: a warning that names who is hit
    assert result["verdict"] == "permerror for IPv6 senders" and proc.returncode == 0
    finding = next(f for f in result["findings"] if f["code"] == "too-many-void-lookups")
    assert finding["severity"] == "warning"
    assert "pyspf" in finding["message"] and "libspf2" in finding["message"] and "--pin" in finding["message"]
    strict = spfguard("check", "v6voids.spfguard.test", "--nameserver", knot.address, "--fail-on", "warning")
    assert strict.returncode == 1


def test_broken_trees(knot):
    proc = spfguard("check", "twice.spfguard.test", "dangling.spfguard.test", "loop.spfguard.test",
                    "--nameserver", knot.address, "--format", "json")
    twice, dangling, loop = json.loads(proc.stdout)["results"]
    assert "multiple-records" in [f["code"] for f in twice["findings"]]
    assert "include-no-record" in [f["code"] for f in dangling["findings"]]
    assert "loop" in [f["code"] for f in loop["findings"]]
    assert proc.returncode == 1


def test_timeout_is_could_not_check_exit_3(relay):
    start = time.monotonic()
    proc = spfguard("check", "slow.spfguard.test", "--nameserver", relay.address, "--timeout", "0.3",
                    "--retries", "1", "--format", "json")
    elapsed = time.monotonic() - start
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)["results"][0]
    assert result["verdict"] == "could not check"
    codes = [f["code"] for f in result["findings"]]
    assert "temporary-failure" in codes and "include-no-record" not in codes and "no-record" not in codes
    assert elapsed < 20


def test_many_domains_share_the_cache(knot):
    domains = ["aacn.org", "deep.spfguard.test", "over.spfguard.test"] * 20
    proc = spfguard("check", *domains, "--nameserver", knot.address, "--format", "json")
    results = json.loads(proc.stdout)["results"]
    assert len(results) == 60 and {r["lookups"] for r in results if r["domain"] == "aacn.org"} == {9}


def test_a_macro_record_served_by_knot_is_measured_not_skipped(knot):
    """Issue #16: a record whose outcome depends on the client address (exists:%{i}…, a Valimail-style include)
    cannot be decided from address sets; coverage of the expected platform is measured with check_host() on the
    ends and middles of its ranges: its IPv4 range passes, its IPv6 range does not — partial."""
    proc = spfguard("check", "macro.spfguard.test", "--nameserver", knot.address, "--expect", "sendgrid",
                    "--format", "json")
    result = json.loads(proc.stdout)["results"][0]
    assert result["coverage"]["sendgrid"] == {"status": "partial", "missing": ["2001:db8:2::/48"], "via": [],
                                              "method": "sampled", "samples": 6}
    assert "partial-vendor" in [f["code"] for f in result["findings"]]
    exact = spfguard("check", "aacn.org", "--nameserver", knot.address, "--expect", "microsoft365", "--format", "json")
    assert json.loads(exact.stdout)["results"][0]["coverage"]["microsoft365"]["method"] == "exact"


def test_eval_shows_each_macro_expanded(knot):
    proc = spfguard("eval", "198.18.2.127", "macro.spfguard.test", "--nameserver", knot.address, "--json")
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result["result"] == "pass"
    (step,) = result["trace"]
    assert step["target"] == "198.18.2.127._ip.macro.spfguard.test" and step["matched"]
    assert step["macros"] == [{"macro": "%{i}", "value": "198.18.2.127"},
                              {"macro": "%{d}", "value": "macro.spfguard.test"}]
    text = spfguard("eval", "2001:db8:2::1", "macro.spfguard.test", "--nameserver", knot.address, "--trace").stdout
    assert "    %{ir} = 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.8.b.d.0.1.0.0.2" in text
    assert "%{v} = ip6" in text and text.startswith("fail:")


def test_sampling_that_meets_dns_failures_is_could_not_check_not_missing(relay):
    """A per-address lookup that times out is not evidence that the platform is unauthorised."""
    proc = spfguard("check", "macroslow.spfguard.test", "--nameserver", relay.address, "--expect", "sendgrid",
                    "--format", "json", "--timeout", "0.3", "--retries", "0")
    assert proc.returncode == 3, proc.stderr
    coverage = json.loads(proc.stdout)["results"][0]["coverage"]["sendgrid"]
    assert coverage["status"] == "unknown" and coverage["missing"] == [] and coverage["samples"] == 6
    assert "6 of 6 sampled evaluations met a DNS failure" in coverage["error"]
