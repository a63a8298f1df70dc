"""``spfguard senders`` on one DMARC aggregate report of 10,000 and 100,000 distinct sources (issue #21): wall time
and peak memory of the whole process, against the naive way — one ``check_host()`` per source — timed on a
sample in the same run and projected. Offline (the demo zones), so the numbers are CPU and memory only.

    .venv/bin/python bench/senders.py        (writes bench/results/senders.md)
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import publish, timed  # noqa: E402
from tests.support.dmarc_reports import report_xml  # noqa: E402

ZONES = ROOT / "fixtures" / "zones"
SIZES = (10_000, 100_000)
NAIVE_SAMPLE = 2_000


def rows(count: int, seed: int = 1) -> list[tuple[str, int, str, str]]:
    """Sources as a big receiver reports them: Microsoft 365 and Google ranges that pass, and a long tail of
    single-message strangers that fail."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        draw = rng.random()
        if draw < 0.3:
            out.append((f"40.107.{rng.randrange(256)}.{rng.randrange(256)}", rng.randrange(1, 50), "pass", "pass"))
        elif draw < 0.5:
            out.append((f"209.85.{rng.randrange(128, 256)}.{rng.randrange(256)}", rng.randrange(1, 50), "pass",
                        "pass"))
        else:
            out.append((f"100.{rng.randrange(64, 128)}.{rng.randrange(256)}.{rng.randrange(256)}", 1, "fail", "fail"))
    return out


def naive_seconds_per_source(sources: list[str]) -> float:
    """One check_host() per source, as a reader without cells would do it."""
    from spfguard.dns.zonefile import ZoneFileDns
    from spfguard.spf.evaluator import check_host_async

    dns = ZoneFileDns.load(ZONES)

    async def run() -> None:
        for ip in sources:
            await check_host_async(ip, "aacn.org", "postmaster@aacn.org", helo="aacn.org", dns=dns)

    start = time.perf_counter()
    asyncio.run(run())
    return (time.perf_counter() - start) / len(sources)


def main() -> int:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            folder = Path(tmp) / str(size)
            folder.mkdir()
            data = rows(size)
            (folder / "report.xml").write_text(report_xml("google.com", "noreply-dmarc-support@google.com",
                                                          f"bench-{size}", 1794787200, 1794873599, data))
            wall, rss, out = timed([sys.executable, "-m", "spfguard.cli.main", "senders", "aacn.org",
                                    "--dmarc-reports", str(folder), "--zone", str(ZONES), "--format", "json"])
            found = json.loads(out)
            assert found["period"]["messages"] == sum(n for _, n, _, _ in data), "messages lost"
            results.append((size, (folder / "report.xml").stat().st_size, wall, rss))
        naive = naive_seconds_per_source([ip for ip, *_ in rows(NAIVE_SAMPLE, seed=2)])
    baseline = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-c", "import spfguard.senders.run, "
                               "parsedmarc"], capture_output=True, text=True)
    floor = int(baseline.stderr.strip().splitlines()[-1])
    lines = ["| sources | report | wall | peak RSS | RSS above imports | per source | one check_host() per source "
             "(projected) | ratio |", "|---|---|---|---|---|---|---|---|"]
    for size, nbytes, wall, rss in results:
        lines.append(f"| {size:,} | {nbytes / 2**20:.1f} MiB | {wall:.1f} s | {rss / 1024:.0f} MiB | "
                     f"{(rss - floor) / 1024:.0f} MiB | {(rss - floor) * 1024 / size:,.0f} B | "
                     f"{naive * size:.0f} s | {naive * size / wall:.1f}× |")
    table = "\n".join(lines)
    publish(table, "senders.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
