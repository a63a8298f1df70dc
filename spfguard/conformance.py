"""Run OpenSPF-format YAML test suites against check_host().

    python -m spfguard.conformance SUITE.yml [SUITE.yml ...] [-v]

Each scenario's ``zonedata`` becomes an in-memory DNS (see :mod:`spfguard.dns.memory`). A test passes when
the result is one of the listed acceptable results and, where the test gives an ``explanation``, the
explanation matches (``DEFAULT`` means "no exp= text"). A test with a ``skip:`` reason (pyspf's suite) is not run.
Record entries are taken in the forms the published suites use: ``TIMEOUT``, ``- TIMEOUT: true`` and
``- SERVFAIL: true`` (blitiri/go-spf) are temporary failures. Prints every failing test and ends with the line
``N passed, M failed[, K skipped]``; the exit status is 0 only when nothing failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from spfguard.dns.memory import MemoryDns
from spfguard.spf.evaluator import check_host_async

DEFAULT_EXPLANATION = "DEFAULT"


@dataclass(frozen=True)
class Case:
    suite: str
    scenario: str
    name: str
    host: str
    mailfrom: str
    helo: str
    results: tuple[str, ...]
    explanation: str | None
    dns: MemoryDns
    skip: str | None = None  # the suite's reason for not running it

    @property
    def domain(self) -> str:
        # RFC 7208 §2.4: the MAIL FROM domain, or the HELO identity when MAIL FROM is empty.
        return self.mailfrom.rpartition("@")[2] if self.mailfrom else self.helo


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: str
    explanation: str | None

    @property
    def passed(self) -> bool:
        if self.result not in self.case.results:
            return False
        if self.case.explanation is None:
            return True
        return (self.explanation or DEFAULT_EXPLANATION) == self.case.explanation


def load_cases(path: str) -> Iterator[Case]:
    with open(path, encoding="utf-8") as fh:
        for scenario in yaml.safe_load_all(fh):
            if not scenario:
                continue
            if not isinstance(scenario, dict) or not isinstance(scenario.get("tests", {}), dict):
                raise ValueError(f"{path}: not an OpenSPF-format suite (documents of tests and zonedata)")
            dns = MemoryDns.from_zonedata(scenario.get("zonedata") or {})
            for name, test in (scenario.get("tests") or {}).items():
                results = test["result"]
                # A plain string is one acceptable result (not a substring test).
                results = tuple(results) if isinstance(results, list) else (results,)
                yield Case(path, scenario.get("description", ""), name, str(test["host"]),
                           str(test.get("mailfrom") or ""), str(test.get("helo") or ""), results,
                           test.get("explanation"), dns, str(test["skip"]) if test.get("skip") else None)


async def run_case(case: Case) -> Outcome:
    res = await check_host_async(case.host, case.domain, case.mailfrom, helo=case.helo, dns=case.dns)
    return Outcome(case, res.result, res.explanation)


def run(paths: list[str]) -> tuple[list[Outcome], list[Case]]:
    """The outcomes of the cases run, and the cases the suites skip."""
    async def _all() -> tuple[list[Outcome], list[Case]]:
        outcomes, skipped = [], []
        for path in paths:
            for case in load_cases(path):
                if case.skip is not None:
                    skipped.append(case)
                else:
                    outcomes.append(await run_case(case))
        return outcomes, skipped

    return asyncio.run(_all())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spfguard.conformance", description=__doc__.split("\n")[0])
    parser.add_argument("suites", nargs="+", metavar="SUITE.yml")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list the tests that passed")
    args = parser.parse_args(argv)
    try:
        outcomes, skipped = run(args.suites)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as err:
        print(f"error: cannot run the suite: {err}", file=sys.stderr)
        return 2
    failed = [o for o in outcomes if not o.passed]
    for o in outcomes if args.verbose else failed:
        status = "ok  " if o.passed else "FAIL"
        expected = "|".join(o.case.results)
        detail = f"expected {expected}, got {o.result}"
        if o.case.explanation is not None:
            detail += f"; explanation expected {o.case.explanation!r}, got {o.explanation or DEFAULT_EXPLANATION!r}"
        print(f"{status} {o.case.scenario} / {o.case.name}: {detail}")
    if args.verbose:
        for case in skipped:
            print(f"skip {case.scenario} / {case.name}: {case.skip}")
    print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed" +
          (f", {len(skipped)} skipped" if skipped else ""))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
