"""Generate the benchmark zone: ``dNNNN.bench.test`` domains whose SPF tree is 5 round trips deep, 9 lookups.

    dN    include:l1 include:s1 -all          (2)   round trip 1
    l1    include:l2 include:s2 -all          (2)   2
    s1    ip4                                       2
    l2    include:l3 include:s3 -all          (2)   3
    s2    a:host ip4                          (1)   3, its A query 4
    l3    include:l4 -all                     (1)   4
    s3    a:host ip4                          (1)   4, its A query 5
    l4    ip4                                       5
"""

from __future__ import annotations

from pathlib import Path

ORIGIN = "bench.test"
LOOKUPS = 9
DEPTH = 5


def domain(n: int) -> str:
    return f"d{n:04d}.{ORIGIN}"


def write_zone(path: Path, count: int) -> Path:
    lines = [f"$ORIGIN {ORIGIN}.", "$TTL 300", "@ IN SOA ns1 hostmaster 1 3600 600 86400 300", "@ IN NS ns1",
             "ns1 IN A 127.0.0.1"]
    for n in range(count):
        d = f"d{n:04d}"
        net = f"10.{n // 250}.{n % 250}"
        lines += [
            f'{d} IN TXT "v=spf1 include:l1.{d}.{ORIGIN} include:s1.{d}.{ORIGIN} -all"',
            f'l1.{d} IN TXT "v=spf1 include:l2.{d}.{ORIGIN} include:s2.{d}.{ORIGIN} -all"',
            f's1.{d} IN TXT "v=spf1 ip4:{net}.1 -all"',
            f'l2.{d} IN TXT "v=spf1 include:l3.{d}.{ORIGIN} include:s3.{d}.{ORIGIN} -all"',
            f's2.{d} IN TXT "v=spf1 a:host.{d}.{ORIGIN} ip4:{net}.2 -all"',
            f'l3.{d} IN TXT "v=spf1 include:l4.{d}.{ORIGIN} -all"',
            f's3.{d} IN TXT "v=spf1 a:host.{d}.{ORIGIN} ip4:{net}.3 -all"',
            f'l4.{d} IN TXT "v=spf1 ip4:{net}.4 -all"',
            f"host.{d} IN A {net}.5",
            f'_dmarc.{d} IN TXT "v=DMARC1; p=reject"',
            f"{d} IN MX 10 mx.{d}.{ORIGIN}.",
            f"mx.{d} IN A {net}.6",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path
