"""spfguard against checkdmarc on a loopback authoritative server with 25 ms per answer (see bench/README.md)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.zones import DEPTH, LOOKUPS, ORIGIN, domain, write_zone  # noqa: E402
from tests.support.knot import KnotServer  # noqa: E402
from tests.support.relay import DnsRelay  # noqa: E402

DELAY = 0.025
REPEAT = 5
MANY = 200
FLEET = 1000
CHECKDMARC_DOMAINS = 10
PY = sys.executable

CHECKDMARC = """
import sys, time
t0 = time.perf_counter()
from checkdmarc.spf import check_spf
import dns.nameserver
ns = [dns.nameserver.Do53Nameserver("127.0.0.1", int(sys.argv[1]))]
t1 = time.perf_counter()
for d in sys.argv[2:]:
    r = check_spf(d, nameservers=ns, timeout=5)
    assert r["valid"], r
    assert r["dns_lookups"] == LOOKUPS, r["dns_lookups"]
print(t1 - t0, time.perf_counter() - t1)
""".replace("LOOKUPS", str(LOOKUPS))


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of a whole process."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rss = int(proc.stderr.strip().splitlines()[-1])
    return wall, rss, proc.stdout


def spfguard(relay: DnsRelay, domains: list[str]) -> tuple[float, int]:
    wall, rss, out = timed([PY, "-m", "spfguard.cli.main", "check", *domains, "--nameserver", relay.address,
                            "--format", "json", "--timeout", "5"])
    results = json.loads(out)["results"]
    assert len(results) == len(domains) and all(r["lookups"] == LOOKUPS for r in results), "wrong counts"
    assert all(r["verdict"] == "valid" for r in results)
    return wall, rss


def monitor_fleet(relay: DnsRelay, tmp: Path) -> list[tuple[float, int]]:
    """Two runs of `spfguard monitor` over the fleet: the first stores baselines, the second compares."""
    config = tmp / "monitor.toml"
    lines = ["[monitor]", f'state = "{tmp / "monitor.sqlite"}"']
    lines += [f'[[monitor.domains]]\nname = "{domain(n)}"' for n in range(FLEET)]
    config.write_text("\n".join(lines) + "\n")
    runs = []
    for _ in range(2):
        wall, rss, out = timed([PY, "-m", "spfguard.cli.main", "monitor", "--config", str(config), "--once",
                                "--nameserver", relay.address, "--timeout", "5"])
        assert f"{FLEET} domain(s) checked" in out, out
        runs.append((wall, rss))
    return runs


FLEET_SIZES = (1000, 10000)


def fleet_runs(relay: DnsRelay, tmp: Path, postgres_url: str | None) -> dict:
    """`spfguard monitor --once` over 1,000 and 10,000 domains (first runs: every domain stored), with the SQLite
    store and, when a PostgreSQL server is at hand, the PostgreSQL one: wall time and peak RSS."""
    out = {}
    for store in ("sqlite", "postgresql"):
        if store == "postgresql" and postgres_url is None:
            continue
        for count in FLEET_SIZES:
            folder = tmp / f"fleet-{store}-{count}"
            folder.mkdir()
            (folder / "domains.csv").write_text("domain\n" + "".join(f"{domain(n)}\n" for n in range(count)))
            state = f"{postgres_url}" if store == "postgresql" else str(folder / "state.sqlite")
            if store == "postgresql":
                import psycopg

                with psycopg.connect(postgres_url, autocommit=True) as db:
                    db.execute("DROP SCHEMA public CASCADE")
                    db.execute("CREATE SCHEMA public")
            config = folder / "spfguard.toml"
            config.write_text(f'[monitor]\nstate = "{state}"\ndomains_file = "domains.csv"\n')
            wall, rss, text = timed([PY, "-m", "spfguard.cli.main", "monitor", "--config", str(config), "--once",
                                     "--nameserver", relay.address, "--timeout", "5"])
            assert f"{count} domain(s) checked" in text, text
            out[(store, count)] = (wall, rss)
    return out


def checkdmarc_process(relay: DnsRelay, domains: list[str]) -> tuple[float, float, float]:
    """(whole-process wall, import time, time in check_spf calls)."""
    wall, _, out = timed([PY, "-c", CHECKDMARC, str(relay.port), *domains])
    imports, calls = map(float, out.split())
    return wall, imports, calls


def compile_sources() -> None:
    """Byte-compile spfguard as pip does when it installs the wheel, so that a timed process loads .pyc files like
    an installed spfguard (and like checkdmarc, installed). Where PYTHONDONTWRITEBYTECODE is set (this machine), a
    run from the source tree would otherwise compile every module it imports, every time (~20 ms a process)."""
    import compileall

    compileall.compile_dir(ROOT / "spfguard", quiet=1)


def publish(table: str, name: str) -> None:
    """Print a benchmark's Markdown table and keep it in bench/results/NAME."""
    print(table)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / name).write_text(table + "\n")


def main() -> int:
    compile_sources()
    knotd = shutil.which("knotd") or "/usr/sbin/knotd"
    if not os.path.exists(knotd):
        print("bench: knotd not found (Debian package 'knot')", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        zone = write_zone(Path(tmp) / f"{ORIGIN}.zone", max(FLEET_SIZES) + REPEAT * 2 + CHECKDMARC_DOMAINS * 2)
        knot = KnotServer(knotd, Path(tmp) / "knot", {ORIGIN: zone}).start()
        relay = DnsRelay(("127.0.0.1", knot.port), delay=DELAY).start()
        postgres = start_postgres()
        try:
            rows = run(relay)
            rows["monitor"] = monitor_fleet(relay, Path(tmp))
            rows["fleet"] = fleet_runs(relay, Path(tmp), postgres.url if postgres else None)
        finally:
            relay.stop()
            knot.stop()
            if postgres:
                postgres.stop()
    table = render(rows)
    publish(table, "latest.md")
    return 0


def start_postgres():
    try:
        from tests.support.postgres import PostgresServer, find_bin

        return PostgresServer().start() if find_bin("postgres") else None
    except Exception as err:  # noqa: BLE001 - the PostgreSQL rows are left out, with the reason
        print(f"bench: no PostgreSQL ({err}): its fleet rows are left out", file=sys.stderr)
        return None


def run(relay: DnsRelay) -> dict:
    fresh = iter(range(max(FLEET_SIZES), max(FLEET_SIZES) + REPEAT * 2 + CHECKDMARC_DOMAINS * 2))
    one_s = [spfguard(relay, [domain(next(fresh))]) for _ in range(REPEAT)]
    one_c = [checkdmarc_process(relay, [domain(next(fresh))]) for _ in range(REPEAT)]
    per_domain_c = checkdmarc_process(relay, [domain(next(fresh)) for _ in range(CHECKDMARC_DOMAINS)])
    many_wall, many_rss = spfguard(relay, [domain(n) for n in range(MANY)])
    fleet_wall, fleet_rss = spfguard(relay, [domain(n) for n in range(FLEET)])
    return {
        "spfguard_one": statistics.median(w for w, _ in one_s),
        "spfguard_one_rss": statistics.median(r for _, r in one_s),
        "checkdmarc_one_process": statistics.median(w for w, _, _ in one_c),
        "checkdmarc_one_call": statistics.median(c for _, _, c in one_c),
        "checkdmarc_per_domain": per_domain_c[2] / CHECKDMARC_DOMAINS,
        "many_wall": many_wall, "many_rss": many_rss, "fleet_wall": fleet_wall, "fleet_rss": fleet_rss,
    }


def render(r: dict) -> str:
    ideal = DEPTH * DELAY
    rate_s = MANY / r["many_wall"]
    rate_c = 1 / r["checkdmarc_per_domain"]
    lines = [
        f"Loopback Knot DNS behind a relay adding {DELAY * 1000:.0f} ms per answer; SPF tree {DEPTH} round trips deep, "
        f"{LOOKUPS} lookups per domain. Median of {REPEAT} runs for one domain.",
        "",
        "| measurement | time | ratio |",
        "|---|---:|---:|",
        f"| ideal for one domain ({DEPTH} × {DELAY * 1000:.0f} ms) | {ideal * 1000:.0f} ms | |",
        f"| checkdmarc `check_spf`, one domain, call only | {r['checkdmarc_one_call'] * 1000:.0f} ms | "
        f"{r['checkdmarc_one_call'] / ideal:.1f} × ideal |",
        f"| checkdmarc `check_spf`, one domain, whole process | {r['checkdmarc_one_process'] * 1000:.0f} ms | |",
        f"| spfguard check, one domain, whole process (with DMARC and MX) | {r['spfguard_one'] * 1000:.0f} ms | "
        f"{r['spfguard_one'] / r['checkdmarc_one_process']:.2f} × checkdmarc process, "
        f"{r['spfguard_one'] / r['checkdmarc_one_call']:.2f} × checkdmarc call, "
        f"{r['spfguard_one'] / ideal:.1f} × ideal |",
        f"| checkdmarc, per domain ({CHECKDMARC_DOMAINS} in a row) | {r['checkdmarc_per_domain'] * 1000:.0f} ms | "
        f"{rate_c:.1f} domains/s |",
        f"| spfguard check, {MANY} domains in one process | {r['many_wall'] * 1000:.0f} ms | {rate_s:.0f} domains/s = "
        f"{rate_s / rate_c:.0f} × checkdmarc's rate |",
        f"| spfguard check, {FLEET} domains in one process | {r['fleet_wall'] * 1000:.0f} ms | "
        f"{FLEET / r['fleet_wall']:.0f} domains/s |",
        f"| spfguard monitor, {FLEET} domains, first run (baselines stored) | {r['monitor'][0][0] * 1000:.0f} ms | "
        f"max RSS {r['monitor'][0][1] / 1024:.0f} MiB |",
        f"| spfguard monitor, {FLEET} domains, second run (compared, no change) | {r['monitor'][1][0] * 1000:.0f} ms "
        f"| max RSS {r['monitor'][1][1] / 1024:.0f} MiB |",
        "",
        f"Peak memory (max RSS) of spfguard check: 1 domain {r['spfguard_one_rss'] / 1024:.0f} MiB, {MANY} domains "
        f"{r['many_rss'] / 1024:.0f} MiB, {FLEET} domains {r['fleet_rss'] / 1024:.0f} MiB.",
        "",
        "Fleet runs (`spfguard monitor --once`, first run: every domain stored, one process):",
        "",
        "| store | domains | time | domains/s | max RSS | 100,000 domains, one machine | on 4 / 10 shards |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (store, count), (wall, rss) in sorted(r["fleet"].items()):
        per = wall / count
        lines.append(f"| {store} | {count:,} | {wall:.1f} s | {count / wall:.0f} | {rss / 1024:.0f} MiB | "
                     f"{per * 100000 / 60:.1f} min | {per * 100000 / 4 / 60:.1f} / {per * 100000 / 10 / 60:.1f} min |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
