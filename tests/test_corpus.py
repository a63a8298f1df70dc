"""420 real SPF records (fixtures/corpus, CC BY 4.0 — see its SOURCE.md): parse all, count as the crawler did."""

from __future__ import annotations

import csv

import pytest

from spfguard.spf import SpfSyntaxError, parse_record
from tests.conftest import FIXTURES

with open(FIXTURES / "corpus" / "spf-records.tsv", encoding="utf-8", newline="") as fh:
    ROWS = list(csv.DictReader(fh, delimiter="\t"))


def top_level_lookups(record) -> int:
    """DNS-querying terms of this record alone (the crawler's lookupCount counts redirect= wherever it is)."""
    return sum(m.counts_lookup for m in record.mechanisms) + (record.redirect is not None)


def test_corpus_size():
    assert len(ROWS) == 420


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["domain"])
def test_record_parses_and_counts_like_the_source(row):
    try:
        record = parse_record(row["spf_record"])
    except SpfSyntaxError as err:  # pragma: no cover - a real record we cannot read would be a bug
        pytest.fail(f"{row['domain']}: {err}")
    assert top_level_lookups(record) == int(row["obs_lookup_count"])
    all_qualifier = record.all.qualifier or "+" if record.all is not None else ""
    assert all_qualifier == row["obs_all_qualifier"]
    assert parse_record(record.render()) == record
