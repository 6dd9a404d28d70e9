"""A benchmark's run: the common options, the header, the guard around it, the figures at the end.

`run_on_engine` is the whole life of a benchmark on the Docker engine: check the tools, make the
run's containers, read the engine's events, measure, remove every container (also on Ctrl-C,
SIGTERM or an error), then print the report and write the JSON.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

import docker.errors

from harness import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_MISSING, BenchError
from harness.containers import LABEL, Boxes, docker_client, engine_facts, ensure_image, remove_boxes
from harness.engine_log import EngineLog
from harness.figures import write_json
from harness.machine import environment
from harness.profiling import (
    PY_SPY_HINT,
    Profile,
    add_profile_arguments,
    find_py_spy,
    profile_from,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterable
    from types import FrameType


R = TypeVar("R")


@dataclass(frozen=True)
class Outputs:
    """What every benchmark's command line may ask for besides its figures on stdout."""

    profile: Profile | None
    """`--profile FILE`: a py-spy profile of the server."""
    json_out: Path | None
    """`--json FILE`: every figure as JSON."""


def add_output_arguments(parser: argparse.ArgumentParser, profiled: str) -> None:
    """`--profile FILE` (`profiled` says which run is profiled), its format, and `--json FILE`."""
    add_profile_arguments(parser, profiled)
    parser.add_argument(
        "--json", dest="json_out", type=Path, metavar="FILE", help="write every figure as JSON"
    )


def outputs_from(args: argparse.Namespace) -> dict[str, Any]:
    """The `Outputs` fields the command line gives, for the script's options."""
    return {"profile": profile_from(args), "json_out": args.json_out}


def counts(
    parser: argparse.ArgumentParser, option: str, text: str, most: int | None
) -> tuple[int, ...]:
    """A comma-separated list of counts from 1 (to `most`); a usage error names `option`."""
    try:
        values = tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        parser.error(f"{option}: not a list of integers: {text!r}")
    if not values or min(values) < 1 or (most is not None and max(values) > most):
        what = "positive counts" if most is None else f"counts from 1 to {most}"
        parser.error(f"{option}: give one or more {what}")
    return values


def print_header(title: str, facts: Iterable[tuple[str, str]]) -> None:
    """What is measured, with which command, where and how."""
    print(title)
    print(f"  {'command':9} {' '.join([Path(sys.executable).name, *sys.argv])}")
    for key, value in facts:
        print(f"  {key:9} {value}")
    sys.stdout.flush()


def raise_interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    """A SIGTERM handler: stop as on Ctrl-C, so that servers and containers are cleaned up."""
    del frame
    raise KeyboardInterrupt(f"signal {signum}")


def interruptible() -> None:
    """SIGTERM and SIGINT both raise KeyboardInterrupt (even if started with SIGINT ignored)."""
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def attempt(measure: Callable[[], R], stderr: IO[str]) -> tuple[int, R | None]:
    """Run the measurements; (0, what they gave), or (exit status, None) said on stderr."""
    try:
        return 0, measure()
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=stderr)
        return EXIT_FAILED, None
    except docker.errors.DockerException as exc:
        print(f"benchmark failed: the Docker engine said: {exc}", file=stderr)
        return EXIT_FAILED, None
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=stderr)
        return EXIT_INTERRUPTED, None


@dataclass(frozen=True)
class Engine:
    """What a benchmark on the Docker engine gets: a client, the run's containers, their events."""

    client: docker.DockerClient
    boxes: Boxes
    log: EngineLog


@dataclass(frozen=True)
class EngineBench(Generic[R]):
    """A benchmark on the Docker engine: what it says it measures, and how it measures and tells."""

    title: str
    settings: str
    """The header's `settings` line."""
    options: Outputs
    """The command line (the JSON's `settings`)."""
    measure: Callable[[Engine], R]
    report: Callable[[R], bool]
    """Print the figures; True when every check held."""
    figures: Callable[[R], dict[str, Any]]
    """Every figure, for `--json`."""


def run_on_engine(bench: EngineBench[R], stderr: IO[str]) -> int:
    """The benchmark from the preflight to the report; its exit status."""
    if bench.options.profile is not None and find_py_spy() is None:
        print(PY_SPY_HINT, file=stderr)
        return EXIT_MISSING
    client = docker_client(stderr)
    if client is None:
        return EXIT_MISSING
    interruptible()
    boxes = Boxes(client, secrets.token_hex(4))
    env: dict[str, str] = {}

    def measure() -> R:
        image = ensure_image(client)
        env.update(environment({"engine": engine_facts(client), "image": image}))
        settings = ("settings", bench.settings)
        where = ("containers", f"{boxes.prefix}-* (label {LABEL}), removed at the end")
        print_header(bench.title, [*env.items(), settings, where])
        with contextlib.closing(EngineLog(client, boxes.owns)) as log:
            return bench.measure(Engine(client, boxes, log))

    status, result = EXIT_FAILED, None
    try:
        status, result = attempt(measure, stderr)
    finally:
        if not remove_boxes(boxes, stderr):
            status = status or EXIT_FAILED
        client.close()
    return finish(
        status,
        result,
        bench.report,
        bench.options.json_out,
        lambda done: {"environment": env, "settings": asdict(bench.options)} | bench.figures(done),
    )


def finish(
    status: int,
    result: R | None,
    report: Callable[[R], bool],
    json_out: Path | None,
    document: Callable[[R], dict[str, Any]],
) -> int:
    """Print the report and write the JSON when the measurements completed; the exit status."""
    if result is None:
        return status
    if not report(result):
        status = status or EXIT_FAILED
    if json_out is not None:
        write_json(json_out, document(result))
    return status
