"""Every fault test at once: pytest on the tests marked `fault`, then one line per test.

Run from the repository with the project's virtualenv, with a Docker engine on the local socket:

    .venv/bin/python bench/faults.py
    .venv/bin/python bench/faults.py -k "kill or journal"     # some of them (pytest's -k)

It runs `python -m pytest -m fault -p no:cacheprovider --no-cov` in the repository (pytest's
own progress and failures print as usual), with a JUnit XML report in a temporary file, then
prints a table from that report: fault | test | PASS/FAIL/SKIP | seconds (setup, call and
teardown), and "N of M faults passed".

A fault's name is the argument of the test's `pytest.mark.fault("...")` marker; tests/conftest.py
copies it into the test's report. A fault with several tests passes when every one of them
passes. A skip is a failure here: the fault tests need a Docker engine, so the run sets
`RESPONDER_REQUIRE_DOCKER` (a missing engine then fails the docker tests, saying why, instead
of skipping them), and any other skip is counted as not passed all the same.

Exit status: 0 when every fault test passed; 1 when one failed, errored or was skipped, or when
none was selected; 2 when pytest could not run them (a usage error, an internal error, no
report); 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness import REPO
from harness.figures import table

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_FAILED = 1
EXIT_BROKEN = 2
EXIT_INTERRUPTED = 130
PYTEST_USAGE_ERRORS = (2, 3, 4)  # interrupted, internal error, usage error
NO_FAULT = "(no fault name)"
DETAIL_CHARS = 160


@dataclass(frozen=True)
class Outcome:
    """One fault test as the report gives it."""

    fault: str
    test: str
    """`tests/test_x.py::test_name`."""
    result: str
    """PASS, FAIL or SKIP."""
    seconds: float
    detail: str
    """Why it failed or was skipped: the first line of pytest's message."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Run every test marked `fault` and summarise them, one line per test."
    )
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="only tests matching EXPR")
    parser.add_argument(
        "--junitxml", type=Path, metavar="FILE", help="keep pytest's JUnit XML report in FILE"
    )
    return parser.parse_args(argv)


def pytest_command(report: Path, keyword: str | None) -> list[str]:
    """The pytest command: the fault tests, without its cache or coverage, reporting to `report`."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "fault",
        "-p",
        "no:cacheprovider",
        "--no-cov",
        f"--junitxml={report}",
        "-o",
        "junit_family=xunit1",  # the family whose schema has per-test properties
        "-q",
    ]
    return [*command, "-k", keyword] if keyword else command


def _test_id(classname: str, name: str) -> str:
    """`tests.test_x` and `test_y` as `tests/test_x.py::test_y` (a collection error has no class)."""
    if not classname:
        return name
    return f"{classname.replace('.', '/')}.py::{name}"


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= DETAIL_CHARS else line[: DETAIL_CHARS - 1] + "…"


def read_report(path: Path) -> list[Outcome]:
    """Every test case of the JUnit XML report, in the order they ran."""
    tree = ET.parse(path)  # noqa: S314 - the report pytest just wrote, not outside input
    outcomes = []
    for case in tree.iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        problems = [case.find("failure"), case.find("error")]
        failed = next((p for p in problems if p is not None), None)
        skipped = case.find("skipped")
        if failed is not None:
            result, why = "FAIL", failed.get("message") or failed.text
        elif skipped is not None:
            result, why = "SKIP", skipped.get("message") or skipped.text
        else:
            result, why = "PASS", None
        outcomes.append(
            Outcome(
                fault=properties.get("fault") or NO_FAULT,
                test=_test_id(case.get("classname", ""), case.get("name", "?")),
                result=result,
                seconds=float(case.get("time") or 0.0),
                detail=_first_line(why),
            )
        )
    return outcomes


def by_fault(outcomes: Sequence[Outcome]) -> dict[str, list[Outcome]]:
    """The outcomes grouped by fault, faults in the order their first test ran."""
    grouped: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.fault, []).append(outcome)
    return grouped


def summarise(outcomes: Sequence[Outcome], elapsed: float) -> bool:
    """Print the table and the count; True when every fault passed."""
    grouped = by_fault(outcomes)
    rows = [
        [fault, o.test, o.result, f"{o.seconds:.2f}"]
        for fault, tests in grouped.items()
        for o in tests
    ]
    print()
    table(["fault", "test", "result", "seconds"], rows, left=3)
    passed = [fault for fault, tests in grouped.items() if all(o.result == "PASS" for o in tests)]
    print()
    for outcome in outcomes:
        if outcome.result != "PASS":
            print(f"  {outcome.result} {outcome.test}: {outcome.detail or '(no message)'}")
    tests_passed = sum(o.result == "PASS" for o in outcomes)
    print(
        f"{len(passed)} of {len(grouped)} faults passed "
        f"({tests_passed} of {len(outcomes)} tests, {elapsed:.0f} s)"
    )
    return bool(outcomes) and len(passed) == len(grouped)


def run(options: argparse.Namespace) -> int:
    """Run pytest, read its report, print the summary; the exit status."""
    env = {**os.environ, "RESPONDER_REQUIRE_DOCKER": "1"}
    with tempfile.TemporaryDirectory(prefix="responder-faults-") as scratch:
        report = options.junitxml or Path(scratch) / "faults.xml"
        started = time.monotonic()
        done = subprocess.run(
            pytest_command(report, options.keyword), cwd=REPO, env=env, check=False
        )
        elapsed = time.monotonic() - started
        if done.returncode in PYTEST_USAGE_ERRORS or not report.exists():
            print(f"pytest could not run the fault tests (exit status {done.returncode})")
            return EXIT_BROKEN
        outcomes = read_report(report)
    if not outcomes:
        print("no test is marked `fault` (or none matches -k)")
        return EXIT_FAILED
    return 0 if summarise(outcomes, elapsed) and done.returncode == 0 else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run every fault test; the exit status says whether all of them passed."""
    options = parse_args(argv)
    try:
        return run(options)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
