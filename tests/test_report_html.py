"""Issue #14: the HTML report in a real headless Chromium (Debian package chromium, driven by Playwright): every
domain, the right counts, the tree and the findings are in the DOM; a tree node toggles; nothing is requested from
anywhere; it reads with JavaScript off; the fleet report sorts and filters. Screenshots go to the test's folder."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import DEMO_ZONES, TEST_ZONES
from tests.support.system import require_tool

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a test extra: pip install '.[test]'")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    executable = require_tool("chromium", "chromium")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def main(args: list[str]) -> int:
    """The CLI in a process of its own (Playwright's sync API keeps an event loop running in this one)."""
    return subprocess.run([sys.executable, "-m", "spfguard.cli.main", *args], capture_output=True, text=True,
                          timeout=300).returncode


def fill(path, count, **kwargs) -> None:
    from tests.support.fleet import fill as fill_store

    with ThreadPoolExecutor(1) as pool:  # asyncio.run() needs a thread without a running loop
        pool.submit(lambda: fill_store(path, count, **kwargs).close()).result()


def open_page(browser, path, javascript=True):
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests, problems = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, requests, problems


def assert_self_contained(path, requests, problems):
    assert requests == [path.as_uri()], requests  # the page itself, nothing else
    assert not problems, problems  # no Content-Security-Policy violation, no script error


def test_a_single_domain_report(browser, tmp_path):
    out = tmp_path / "aacn.html"
    assert main(["check", "aacn.org", "--zone", str(DEMO_ZONES), "--expect",
                 "microsoft365,google-workspace,mimecast-us", "--format", "html", "--output", str(out)]) == 0
    page, requests, problems = open_page(browser, out)
    assert_self_contained(out, requests, problems)
    section = page.locator("section.domain[data-domain='aacn.org']")
    assert section.locator("[data-lookups]").inner_text() == "9/10"
    assert section.locator(".verdict").inner_text() == "valid"
    assert page.locator("tr.finding[data-code='near-lookup-limit']").count() == 1
    assert page.locator("tr.finding[data-code='stale-vendor-range']").count() == 3
    assert page.locator("details.node").count() == 8  # aacn.org and its 7 includes
    assert page.locator("table.coverage td.coverage-full").count() == 3
    node = page.locator("details.node[data-name='docebosaas.com']")
    assert node.get_attribute("open") is not None
    node.locator("summary").first.click()
    assert node.evaluate("d => d.open") is False  # clicking a node folds it …
    node.locator("summary").first.click()
    assert node.evaluate("d => d.open") is True  # … and unfolds it
    page.locator("[data-collapse]").click()
    assert page.locator("details.node[open]").count() == 0
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.locator("details.node[open]").count() == 8  # printing shows the whole tree
    assert not page.locator(".controls").first.is_visible()
    page.screenshot(path=str(tmp_path / "single-domain.png"), full_page=True)
    assert (tmp_path / "single-domain.png").stat().st_size > 10_000


def test_it_reads_with_javascript_off(browser, tmp_path):
    out = tmp_path / "over.html"
    assert main(["check", "over.spfguard.test", "deep.spfguard.test", "--zone", str(TEST_ZONES), "--format", "html",
                 "--output", str(out)]) == 1
    page, requests, problems = open_page(browser, out, javascript=False)
    assert_self_contained(out, requests, problems)
    assert page.locator("section.domain").count() == 2
    text = page.inner_text("body")
    assert "lookup 11: receivers stop here with permerror" in text  # the term past the limit, marked
    assert "include:o6.spfguard.test" in text and page.locator("details.node[open]").count() >= 7


def test_a_plan_page(browser, tmp_path):
    out = tmp_path / "plan.html"
    assert main(["fix", "aacn.org", "--zone", str(DEMO_ZONES), "--expect", "microsoft365", "--format", "html",
                 "--output", str(out)]) == 0
    page, requests, problems = open_page(browser, out)
    assert_self_contained(out, requests, problems)
    assert page.locator("table.diff tr.del").count() == 1 and page.locator("table.diff tr.add").count() == 1
    assert "equivalent except intended differences" in page.inner_text("body")


def test_hostile_records_cannot_inject_markup(browser, tmp_path):
    zone = tmp_path / "evil.example.zone"
    zone.write_text('$ORIGIN evil.example.\n$TTL 300\n@ SOA ns h 1 3600 600 86400 300\n@ NS ns\n'
                    '@ TXT "v=spf1 include:x.evil.example -all <script>alert(1)</script>"\n')
    out = tmp_path / "evil.html"
    main(["check", "evil.example", "--zone", str(zone), "--format", "html", "--output", str(out)])
    page, requests, problems = open_page(browser, out)
    assert_self_contained(out, requests, problems)
    assert page.locator("script").count() == 1 and "<script>alert(1)</script>" in page.inner_text("body")


def test_the_fleet_report_sorts_and_filters(browser, tmp_path):
    fill(tmp_path / "fleet.sqlite", 200)
    out = tmp_path / "fleet.html"
    assert main(["monitor", "report", "--state", str(tmp_path / "fleet.sqlite"), "--output", str(out)]) == 0
    page, requests, problems = open_page(browser, out)
    assert_self_contained(out, requests, problems)
    rows = page.locator("#fleet tbody tr")
    assert rows.count() == 200 and page.locator("#shown").inner_text() == "200"
    assert page.locator("#fleet tbody tr td.timeline svg").count() == 200
    page.select_option("#f-tenant", "acme")
    assert page.locator("#shown").inner_text() == "50"
    assert all(r.get_attribute("data-tenant") == "acme" for r in page.locator("#fleet tbody tr:not([hidden])").all())
    page.select_option("#f-tenant", "")
    page.fill("#f-lookups", "11")
    shown = int(page.locator("#shown").inner_text())
    assert 0 < shown < 200
    page.fill("#f-lookups", "0")
    page.locator("th[data-key='lookups']").click()
    first = page.locator("#fleet tbody tr").first.get_attribute("data-lookups")
    page.locator("th[data-key='lookups']").click()
    last_first = page.locator("#fleet tbody tr").first.get_attribute("data-lookups")
    assert int(first) < int(last_first)  # ascending, then descending
    page.screenshot(path=str(tmp_path / "fleet-200.png"), full_page=False)
    tenant_only = tmp_path / "acme.html"
    assert main(["monitor", "report", "--state", str(tmp_path / "fleet.sqlite"), "--output", str(tenant_only),
                 "--tenant", "acme"]) == 0
    assert tenant_only.read_text().count("<tr data-domain=") == 50


def test_a_timeline_draws_only_where_the_line_bends():
    from spfguard.report.fleet import timeline_svg, turning_points

    day = 86400.0
    steady = [(n * day, 9, False) for n in range(30)]
    assert turning_points(steady) == [steady[0], steady[-1]]  # a month unchanged: one segment
    bumpy = steady[:10] + [(10 * day, 12, False), (11 * day, None, True)] + steady[12:]
    kept = turning_points(bumpy)
    assert (10 * day, 12, False) in kept and (11 * day, None, True) in kept and len(kept) == 6
    svg = timeline_svg(bumpy, [(10 * day, "lookups-over-limit", "needs 12"), (10 * day + 60, "lookups-over-limit",
                                                                              "needs 12")])
    assert svg.count("<circle") == 5 and svg.count("<rect") == 1 and svg.count("<path") == 1  # a repeat: one mark
    assert "could not check" in svg and "12 lookups" in svg


def test_the_senders_page(browser, tmp_path):
    from tests.conftest import ROOT

    out = tmp_path / "senders.html"
    assert main(["senders", "aacn.org", "--dmarc-reports", str(ROOT / "fixtures" / "dmarc"), "--zone",
                 str(DEMO_ZONES), "--format", "html", "--output", str(out), "--suggest"]) == 1
    page, requests, problems = open_page(browser, out)
    assert_self_contained(out, requests, problems)
    row = page.locator("table.senders tr[data-platform='sendgrid']")
    # issue #23: its mail fails SPF but passes DMARC by DKIM — never called unauthorised; the include still named
    assert row.get_attribute("data-status") == "dkim-only" and "include:sendgrid.net would make SPF pass too" in \
        row.inner_text()
    assert page.locator("table.senders tr[data-status='unused']").count() == 1
    assert page.locator("table.unknown tr[data-source='192.0.2.99']").inner_text().count("possible spoofing") == 1
    assert "spfguard fix aacn.org --expect google-workspace,microsoft365,sendgrid" in page.inner_text("body")


def test_a_bidi_override_in_a_report_reads_as_written(tmp_path, browser):
    """Issue #21: a reporter named "\u202emoc.elgoog" must not render as "google.com"."""
    pytest.importorskip("parsedmarc")
    from tests.support.dmarc_reports import report_xml

    (tmp_path / "r.xml").write_text(report_xml("\u202emoc.elgoog", "noreply@x.test", "b-1", 1794787200, 1794873599,
                                               [("192.0.2.77", 3, "fail", "fail")]))
    page_file = tmp_path / "senders.html"
    assert main(["senders", "aacn.org", "--dmarc-reports", str(tmp_path / "r.xml"), "--zone", str(DEMO_ZONES),
                 "--format", "html", "--output", str(page_file)]) == 0  # a spoofer is not a sender to add
    page, requests, problems = open_page(browser, page_file)
    text = page.inner_text("body")
    assert "Reports from \\u202emoc.elgoog" in text and "\u202e" not in text  # shown as written, not reversed
    assert_self_contained(page_file, requests, problems)
