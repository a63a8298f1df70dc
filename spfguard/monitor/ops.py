"""Operability for a nightly fleet job: structured logs (``--log-format json``: one line per run and per domain
that fails) and a Prometheus text file (``--metrics-file``, for node_exporter's textfile collector)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path

from spfguard.logs import handler

log = logging.getLogger("spfguard.monitor")


def configure(log_format: str | None) -> None:
    """No log by default (the CLI prints its summary); ``text`` or ``json`` lines on stderr when asked."""
    log.handlers.clear()
    log.propagate = False
    if log_format is None:
        log.setLevel(logging.CRITICAL + 1)
        return
    log.addHandler(handler(log_format))
    log.setLevel(logging.INFO)


def emit(message: str, level: int = logging.INFO, **fields) -> None:
    log.log(level, message, extra={"fields": fields})


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                     for k, v in labels.items())
    return "{" + inner + "}"


def number(value: float) -> str:
    """A sample value in full precision (the text format takes Go's float syntax): a timestamp keeps its seconds,
    a counter its last digit."""
    if isinstance(value, bool) or (isinstance(value, int)):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def write_metrics(path: Path, shard: str, values: dict) -> None:
    """The Prometheus text exposition format, written to a temporary file and renamed (node_exporter never
    reads half a file)."""
    base = {"shard": shard}
    lines = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[dict, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{_labels({**base, **labels})} {number(value)}" for labels, value in samples)

    metric("spfguard_monitor_domains_checked", "gauge", "Domains checked by the last run.",
           [({}, values["checked"])])
    metric("spfguard_monitor_domains_failing", "gauge", "Domains the last run could not check completely.",
           [({}, values["failing"])])
    metric("spfguard_monitor_problems", "gauge", "Open problems after the last run, by code.",
           [({"code": code}, n) for code, n in sorted(values["problems"].items())] or [({"code": "none"}, 0)])
    metric("spfguard_monitor_run_duration_seconds", "gauge", "Wall time of the last run.", [({}, values["duration"])])
    metric("spfguard_monitor_dns_queries", "gauge", "DNS queries the last run sent.", [({}, values["queries"])])
    metric("spfguard_monitor_dns_timeouts", "gauge", "DNS queries of the last run that timed out.",
           [({}, values["timeouts"])])
    metric("spfguard_monitor_alerts_pending", "gauge", "Alerts not yet delivered.", [({}, values["pending"])])
    metric("spfguard_monitor_last_run_timestamp_seconds", "gauge", "When the last run finished (Unix time).",
           [({}, values["finished"])])
    lines.append("# HELP spfguard_monitor_shard_last_run_timestamp_seconds When each shard of the fleet last started "
                 "a run (Unix time; 0: never).")
    lines.append("# TYPE spfguard_monitor_shard_last_run_timestamp_seconds gauge")
    lines.extend(f"spfguard_monitor_shard_last_run_timestamp_seconds{_labels({'shard': label})} {number(at)}"
                 for label, at in sorted(values.get("shards", {}).items()))
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except OSError as err:
        emit(f"cannot write the metrics file {path}: {err.strerror}", logging.WARNING)
        raise
