"""The HTML reports in a real headless Chromium (issue #14): how long the fleet report of 200 and 1,000 domains
takes to open, filter and sort, against the same page with JavaScript off in the same run, and its size.
With ``--screenshots DIR`` it also writes the README's screenshots (a single domain, a 200-domain fleet)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import publish  # noqa: E402
from tests.support.fleet import fill  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
BUDGET_S, BUDGET_BYTES = 2.0, 5 * 1024 * 1024
REPEAT = 5


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "spfguard.cli.main", *args], check=False, capture_output=True, timeout=600)


def open_time(browser, path: Path, javascript: bool) -> float:
    """Seconds from navigation start to the end of the load event (parsing, layout, the script's set-up)."""
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load")
    if javascript:
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")  # the first frame painted
    elapsed = time.perf_counter() - start
    context.close()
    return elapsed


def interaction_time(browser, path: Path) -> tuple[float, float]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(path.as_uri(), wait_until="load")
    total = page.locator("#shown").inner_text()
    start = time.perf_counter()
    page.fill("#f-lookups", "11")
    page.wait_for_function("total => document.getElementById('shown').textContent !== total", arg=total)
    filtered = time.perf_counter() - start
    page.fill("#f-lookups", "0")
    start = time.perf_counter()
    page.locator("th[data-key='lookups']").click()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
    sorted_ = time.perf_counter() - start
    context.close()
    return filtered, sorted_


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def screenshots(browser, tmp: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    single = tmp / "aacn.html"
    cli("check", "aacn.org", "--zone", str(ROOT / "fixtures" / "zones"), "--expect",
        "microsoft365,google-workspace,mimecast-us", "--format", "html", "--output", str(single))
    context = browser.new_context(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.goto(single.as_uri(), wait_until="load")
    page.screenshot(path=str(out / "single-domain.png"), full_page=True)
    page.goto((tmp / "fleet-200.html").as_uri(), wait_until="load")
    page.screenshot(path=str(out / "fleet.png"))
    context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--screenshots", type=Path, help="also write the README's screenshots to this folder")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        print("bench: chromium not found (Debian package 'chromium')", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for count in (200, 1000):
            fill(tmp / f"fleet-{count}.sqlite", count, runs=30).close()
            start = time.perf_counter()
            cli("monitor", "report", "--state", str(tmp / f"fleet-{count}.sqlite"), "--output",
                str(tmp / f"fleet-{count}.html"))
            rows.append({"count": count, "write": time.perf_counter() - start,
                         "size": (tmp / f"fleet-{count}.html").stat().st_size})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            for row in rows:
                page = tmp / f"fleet-{row['count']}.html"
                row["open"] = median([open_time(browser, page, True) for _ in range(REPEAT)])
                row["plain"] = median([open_time(browser, page, False) for _ in range(REPEAT)])
                row["filter"], row["sort"] = interaction_time(browser, page)
            if args.screenshots:
                screenshots(browser, tmp, args.screenshots)
            browser.close()
    table = render(rows)
    publish(table, "report.md")
    return 0 if all(r["open"] < BUDGET_S and r["size"] < BUDGET_BYTES for r in rows) else 1


def render(rows: list[dict]) -> str:
    lines = [f"Fleet report (`spfguard monitor report`, 30 runs of history) in headless Chromium; median of {REPEAT} "
             "opens. Budget: open in under 2 s, file under 5 MB.", "",
             "| domains | file | written in | opens in | same page, JavaScript off | ratio | filter | sort |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['count']:,} | {r['size'] / 1024 / 1024:.2f} MB | {r['write']:.1f} s | "
                     f"{r['open'] * 1000:.0f} ms | {r['plain'] * 1000:.0f} ms | {r['open'] / r['plain']:.2f} × | "
                     f"{r['filter'] * 1000:.0f} ms | {r['sort'] * 1000:.0f} ms |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
