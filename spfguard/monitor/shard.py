"""Which domains a machine checks: a stable hash of the domain name, so that adding or removing a domain moves no
other domain to another shard (and so to a store with no history for it). ``--shard auto`` reads the index from
the job system: a Kubernetes Indexed Job (``JOB_COMPLETION_INDEX``) or an AWS Batch array job
(``AWS_BATCH_JOB_ARRAY_INDEX``), the count from ``SPFGUARD_SHARDS``."""

from __future__ import annotations

import hashlib
import os

from spfguard.errors import UserError

INDEX_VARIABLES = ("JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX")


def shard_of(domain: str, count: int) -> int:
    digest = hashlib.sha256(domain.lower().rstrip(".").encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(text: str | None, environ=os.environ) -> tuple[int, int]:
    if text is None:
        return 0, 1
    if text == "auto":
        variable = next((v for v in INDEX_VARIABLES if environ.get(v, "").strip()), None)
        count = environ.get("SPFGUARD_SHARDS", "").strip()
        if variable is None or not count:
            raise UserError("--shard auto: set SPFGUARD_SHARDS to the number of shards, and run as a Kubernetes "
                            "Indexed Job (JOB_COMPLETION_INDEX) or an AWS Batch array job "
                            "(AWS_BATCH_JOB_ARRAY_INDEX)")
        text = f"{environ[variable].strip()}/{count}"
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
        raise UserError(f"--shard {text!r}: expected K/N with 0 ≤ K < N, e.g. 0/4 (K counts from 0), or auto")
    return int(k), int(n)


def in_shard(domain: str, shard: tuple[int, int]) -> bool:
    k, n = shard
    return n == 1 or shard_of(domain, n) == k
