"""Shared fixtures: settings in a temp dir, the real app in-process, and the Docker engine gate.

Also the Hypothesis profiles: `ci` runs every property test's full count of examples, `dev`
(the default where CI is not set) a tenth of it; `--hypothesis-profile=ci` asks for the full
run anywhere.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
import hypothesis
import pytest
from _docker import ACTION_INCIDENT, Resources
from _hostile import FULL_EXAMPLES
from _peers import peers_required

from responder import __version__
from responder.actions import ActionContext
from responder.app import create_app
from responder.engine import SdkEngine, probe_socket
from responder.errors import TransientError
from responder.settings import DockerSettings, Settings
from responder.testing import TEST_IMAGE, ensure_test_image

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    from aiohttp.test_utils import TestClient
    from aiohttp.web import Application

    from responder.engine import DockerEngine

    ClientFactory = Callable[..., Awaitable[TestClient[Any, Application]]]

hypothesis.settings.register_profile("ci", max_examples=FULL_EXAMPLES)
hypothesis.settings.register_profile("dev", max_examples=FULL_EXAMPLES // 10)
hypothesis.settings.load_profile("ci" if os.environ.get("CI") else "dev")

_docker_state: dict[str, str | None] = {}


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """What a test adds to the root logger (a `serve` run in-process) goes when it ends.

    A handler left behind would write every later record to a stream pytest has closed.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _docker_problem() -> str | None:
    """None when an engine answers, else why not; asked once per run."""
    if "problem" not in _docker_state:
        try:
            probe_socket(None, 5)
            client = docker.from_env(version="auto", timeout=5)
            client.ping()
            client.close()
            _docker_state["problem"] = None
        except (docker.errors.DockerException, TransientError) as exc:
            _docker_state["problem"] = str(exc)
    return _docker_state["problem"]


def pytest_report_header() -> str:
    """Say which Hypothesis profile runs, so a quick run is never taken for the full one."""
    profile = hypothesis.settings.get_current_profile_name()
    count = hypothesis.settings().max_examples  # a fresh one inherits the loaded profile
    return f"hypothesis profile {profile!r}: max_examples={count}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Docker tests fail without an engine when CI is set; elsewhere they skip, loudly."""
    if item.get_closest_marker("docker") is None:
        return
    problem = _docker_problem()
    if problem is None:
        return
    if peers_required():
        pytest.fail(f"Docker tests are required here (CI is set) but no engine answers: {problem}")
    pytest.skip(f"no Docker engine: {problem}")


def pytest_itemcollected(item: pytest.Item) -> None:
    """A fault test carries its fault's name in its report (bench/faults.py reads it)."""
    marker = item.get_closest_marker("fault")
    if marker is None:
        return
    if len(marker.args) != 1 or not isinstance(marker.args[0], str) or not marker.args[0]:
        raise pytest.UsageError(f"{item.nodeid}: pytest.mark.fault takes the fault's name")
    item.user_properties.append(("fault", marker.args[0]))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it in capitals when Docker tests did not run."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if "no Docker engine" in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_sep(
            "!",
            f"{len(skipped)} DOCKER TESTS SKIPPED: no Docker engine answers "
            "(start dockerd, or set CI=1 to make this a failure)",
            red=True,
            bold=True,
        )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Defaults, with the data and playbook directories in a fresh temp dir."""
    return Settings(data_dir=tmp_path / "data", playbooks=tmp_path / "playbooks")


@pytest.fixture
def make_client(aiohttp_client: Any, settings: Settings) -> ClientFactory:
    """Start the real app in-process, with settings changed by keyword (`auth=...`).

    `engine=` gives it that engine (a `FakeEngine`) instead of the real one.
    """

    async def make(
        *, engine: DockerEngine | None = None, **changes: Any
    ) -> TestClient[Any, Application]:
        app = create_app(settings.model_copy(update=changes), engine=engine)
        client: TestClient[Any, Application] = await aiohttp_client(app)
        return client

    return make


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the real engine (tests using it carry the `docker` marker)."""
    client = docker.from_env(version="auto", timeout=30)
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_image(docker_client: docker.DockerClient) -> str:
    """A local image holding a static busybox, imported without any registry."""
    ensure_test_image(docker_client)
    return TEST_IMAGE


@pytest.fixture
def resources(docker_client: docker.DockerClient, test_image: str) -> Iterator[Resources]:
    """What a test makes on the engine, removed afterwards."""
    made = Resources(docker_client, test_image)
    yield made
    made.cleanup()


@pytest.fixture
async def engine() -> AsyncIterator[SdkEngine]:
    """Our seam onto the real engine, one per test."""
    seam = SdkEngine(DockerSettings())
    yield seam
    await seam.close()


@pytest.fixture
def ctx(engine: SdkEngine, tmp_path: Path) -> ActionContext:
    """A live (not dry-run) action context with its evidence under the test's temp dir."""
    return ActionContext(
        engine=engine,
        incident_id=ACTION_INCIDENT,
        evidence_dir=tmp_path / "evidence" / ACTION_INCIDENT,
        versions={"responder": __version__, "docker": "test"},
    )


def payload_path(*parts: str) -> Path:
    """A recorded payload under tests/payloads/."""
    return Path(__file__).parent.joinpath("payloads", *parts)
