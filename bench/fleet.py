"""A benchmark shaped like a real fleet (issue #25): domains that share vendor trees.

Real fleets include the same few vendors thousands of times (Google, Microsoft, Mimecast, SendGrid …). The
generator draws each domain's includes from ~40 vendor trees with a Zipf-like popularity — most domains include 2
to 4 of them, each vendor tree 1 to 4 levels deep — plus the domain's own ``a``/``mx``/``ip4`` terms. A loopback
Knot DNS serves the zones behind a relay adding 25 ms per answer, and the benchmark reports, for 1,000 and 10,000
domains, domains/s and DNS queries per domain for ``check`` and ``monitor --once`` (with peak RSS), the queries
against the distinct names of each domain's own tree, and the top of a CPU profile of ``check``'s per-domain work
(in-process, from zone files loaded before the profiler starts).

    .venv/bin/python bench/fleet.py [--sizes 1000,10000]     (writes bench/results/fleet.md)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import DELAY, PY, compile_sources, publish, timed  # noqa: E402
from tests.support.knot import KnotServer  # noqa: E402
from tests.support.relay import DnsRelay  # noqa: E402

VENDORS = 40
ORIGIN = "fleet.test"
VENDOR_ORIGIN = "vendors.test"


def vendor_records(rng: random.Random) -> tuple[list[str], dict[str, int]]:
    """The vendor zone's lines, and each vendor's include name with the number of records of its tree."""
    lines, roots = [], {}
    for v in range(VENDORS):
        depth = rng.choice((1, 1, 2, 2, 3, 4))
        names = [f"_spf.v{v}" if level == 0 else f"s{level}.v{v}" for level in range(depth)]
        for level, name in enumerate(names):
            ranges = " ".join(f"ip4:{100 + v % 50}.{level * 40 + k}.{v}.0/24" for k in range(rng.randint(2, 6)))
            ranges += f" ip6:2001:db8:{v:x}:{level:x}::/64"
            deeper = f" include:{names[level + 1]}.{VENDOR_ORIGIN}" if level + 1 < len(names) else ""
            lines.append(f'{name} IN TXT "v=spf1 {ranges}{deeper} ~all"')
        roots[f"{names[0]}.{VENDOR_ORIGIN}"] = depth
    return lines, roots


def write_zones(folder: Path, count: int, seed: int = 7) -> tuple[list[str], dict[str, int]]:
    """The two zone files; returns the domains and, per domain, the distinct names of its own tree."""
    rng = random.Random(seed)
    vendor_lines, depth = vendor_records(rng)
    roots = list(depth)
    weights = [1 / (k + 1) ** 1.1 for k in range(VENDORS)]
    header = "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n"
    (folder / f"{VENDOR_ORIGIN}.zone").write_text(f"$ORIGIN {VENDOR_ORIGIN}.\n{header}" + "\n".join(vendor_lines)
                                                  + "\n")
    lines, domains, names = [], [], {}
    for n in range(count):
        d = f"d{n:05d}"
        chosen: list[str] = []
        while len(chosen) < rng.choice((2, 2, 3, 3, 4)):
            pick = rng.choices(roots, weights)[0]
            if pick not in chosen:
                chosen.append(pick)
        own = f"ip4:10.{n // 250 % 250}.{n % 250}.0/28"
        lines += [f'{d} IN TXT "v=spf1 a mx {own} ' + " ".join(f"include:{c}" for c in chosen) + ' -all"',
                  f"{d} IN A 10.{n // 250 % 250}.{n % 250}.20", f"{d} IN MX 10 mx.{d}.{ORIGIN}.",
                  f"mx.{d} IN A 10.{n // 250 % 250}.{n % 250}.25", f'_dmarc.{d} IN TXT "v=DMARC1; p=reject"']
        domains.append(f"{d}.{ORIGIN}")
        names[f"{d}.{ORIGIN}"] = 2 + sum(depth[c] for c in chosen)  # its record, its mx host, the vendor records
    (folder / f"{ORIGIN}.zone").write_text(f"$ORIGIN {ORIGIN}.\n{header}" + "\n".join(lines) + "\n")
    return domains, names


def check_run(relay: DnsRelay, domains: list[str], folder: Path) -> tuple[float, int, int]:
    (folder / "domains.txt").write_text("\n".join(domains) + "\n")
    before = relay.received
    wall, rss, out = timed([PY, "-m", "spfguard.cli.main", "check", "--domains-from", str(folder / "domains.txt"),
                            "--nameserver", relay.address, "--timeout", "5", "--format", "summary"])
    assert out.count("\n") == len(domains), out[-500:]
    return wall, rss, relay.received - before


def monitor_run(relay: DnsRelay, domains: list[str], folder: Path) -> tuple[float, int, int]:
    (folder / "domains.csv").write_text("domain\n" + "\n".join(domains) + "\n")
    (folder / "spfguard.toml").write_text(f'[monitor]\nstate = "{folder / "state.sqlite"}"\n'
                                          'domains_file = "domains.csv"\n')
    before = relay.received
    wall, rss, out = timed([PY, "-m", "spfguard.cli.main", "monitor", "--config", str(folder / "spfguard.toml"),
                            "--once", "--nameserver", relay.address, "--timeout", "5"])
    assert f"{len(domains)} domain(s) checked" in out, out
    return wall, rss, relay.received - before


def profile(folder: Path, count: int = 1000, top: int = 12) -> str:
    """The top of a CPU profile of check's per-domain work on zone files of ``count`` domains (loaded before the
    profiler starts; no network): audit and JSON encoding, as `check --format json` does them."""
    import asyncio
    import json

    from spfguard.app.check import CheckRequest, check_domains
    from spfguard.dns.zonefile import ZoneFileDns
    from spfguard.report.jsonout import report_to_json

    (folder / "profiled").mkdir()
    domains, _ = write_zones(folder / "profiled", count)
    dns = ZoneFileDns.load(*sorted((folder / "profiled").glob("*.zone")))

    async def run() -> int:
        size = 0
        async for _, report in check_domains(CheckRequest(domains), dns):
            size += len(json.dumps(report_to_json(report)))
        return size

    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    asyncio.run(run())
    profiler.disable()
    wall = time.perf_counter() - start
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    body = [line for line in text.getvalue().splitlines() if line.strip()]
    start_at = next(i for i, line in enumerate(body) if line.lstrip().startswith("ncalls"))
    return (f"CPU profile of `check`'s per-domain work on {count} domains from zone files loaded beforehand (no "
            f"network), JSON included: {wall * 1000 / count:.2f} ms per domain under the profiler; top {top} by own "
            "time:\n\n```\n" + "\n".join(body[start_at:start_at + top + 1]) + "\n```")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    compile_sources()
    knotd = shutil.which("knotd") or "/usr/sbin/knotd"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "zones").mkdir()
        domains, names = write_zones(folder / "zones", max(sizes))
        knot = KnotServer(knotd, folder / "knot", {p.name.removesuffix(".zone"): p
                                                  for p in (folder / "zones").glob("*.zone")}).start()
        relay = DnsRelay(("127.0.0.1", knot.port), delay=DELAY).start()
        try:
            for size in sizes:
                part = domains[:size]
                own = sum(names[d] for d in part) / size
                for kind, run in (("check", check_run), ("monitor --once", monitor_run)):
                    sub = folder / f"{kind.split()[0]}-{size}"
                    sub.mkdir()
                    wall, rss, queries = run(relay, part, sub)
                    rows.append(f"| `{kind}` | {size:,} | {wall:.1f} s | {size / wall:.0f} | {queries / size:.2f} | "
                                f"{own:.2f} | {rss / 1024:.0f} MiB |")
        finally:
            relay.stop()
            knot.stop()
        profiled = profile(folder)
    table = "\n".join([
        f"Fleet-shaped: {VENDORS} vendor trees (1–4 levels) shared with a Zipf-like popularity, 2–4 per domain, plus "
        f"each domain's a/mx/ip4; Knot on loopback behind a relay adding {DELAY * 1000:.0f} ms per answer.", "",
        "| command | domains | wall | domains/s | DNS queries per domain | distinct names per domain's tree | "
        "peak RSS |", "|---|---:|---:|---:|---:|---:|---:|", *rows, "", profiled])
    publish(table, "fleet.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
