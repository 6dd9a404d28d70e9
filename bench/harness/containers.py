"""The test containers: the engine, the tests' image, and every container a run makes and removes.

Containers are named `responder-bench-RUN-...`, labelled `responder-bench=RUN`, run `sleep 3600`
(one left behind by a SIGKILLed run exits within the hour) and are removed at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import docker
import docker.errors

from responder.testing import TEST_IMAGE, ensure_test_image

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

IMAGE = TEST_IMAGE  # the tests' image, made the same way
SLEEPER = ["sleep", "3600"]
LABEL = "responder-bench"
DOCKER_TIMEOUT_S = 60
CREATE_THREADS = 8


def docker_client(stderr: IO[str]) -> docker.DockerClient | None:
    """A client of the local engine with the test image available, or None (said on stderr)."""
    try:
        client = docker.from_env(version="auto", timeout=DOCKER_TIMEOUT_S, max_pool_size=64)
        client.ping()
    except docker.errors.DockerException as exc:
        print(f"no Docker engine answers: {exc}", file=stderr)
        return None
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        if shutil.which("busybox") is None and not Path("/bin/busybox").exists():
            print(
                f"{IMAGE} is missing and there is no busybox to build it from: "
                "sudo apt-get install -y busybox-static",
                file=stderr,
            )
            client.close()
            return None
    return client


def ensure_image(client: docker.DockerClient) -> str:
    """The test image, imported without any registry when missing; says which."""
    if ensure_test_image(client, IMAGE):
        return f"{IMAGE} (imported from the host's busybox)"
    return f"{IMAGE} (present)"


def engine_facts(client: docker.DockerClient) -> str:
    """The engine's version, storage, cgroup version and runtime, in one line."""
    version = client.version()
    info = client.info()
    return (
        f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')}), "
        f"storage {info.get('Driver', '?')}, cgroup {info.get('CgroupVersion', '?')}, "
        f"runtime {info.get('DefaultRuntime', '?')}, "
        f"{info.get('Containers', '?')} containers before the run"
    )


@dataclass(frozen=True)
class Box:
    """One container made for this run."""

    id: str
    name: str

    @property
    def short_id(self) -> str:
        """The 12 hex digits Falco puts in `container.id`."""
        return self.id[:12]


def engine_state(
    client: docker.DockerClient, boxes: Sequence[Box]
) -> dict[str, tuple[bool, list[str]]]:
    """Each container's paused flag and networks now."""
    state = {}
    for box in boxes:
        attrs = client.api.inspect_container(box.id)
        networks = sorted((attrs.get("NetworkSettings") or {}).get("Networks") or {})
        state[box.id] = (bool(attrs["State"]["Paused"]), networks)
    return state


class Boxes:
    """Every container this run makes: uniquely named, labelled, and removed in `remove_all`."""

    def __init__(self, client: docker.DockerClient, run_id: str) -> None:
        self._api = client.api
        self.run_id = run_id
        self.prefix = f"{LABEL}-{run_id}"
        self._made: set[str] = set()
        """Made and not yet removed."""
        self._known: set[str] = set()
        """Every container this run made, removed or not."""
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(CREATE_THREADS, thread_name_prefix="boxes")
        self._count = 0

    def create(self, count: int, kind: str, labels: Mapping[str, str] | None = None) -> list[Box]:
        """`count` running containers, made a few at a time, with these labels besides ours."""
        names = []
        with self._lock:
            for _ in range(count):
                self._count += 1
                names.append(f"{self.prefix}-{kind}-{self._count}")
        every = {**(labels or {}), LABEL: self.run_id}
        return list(self._pool.map(lambda name: self._create_one(name, every), names))

    def _create_one(self, name: str, labels: dict[str, str]) -> Box:
        made = self._api.create_container(
            IMAGE, SLEEPER, name=name, labels=labels, stop_signal="SIGKILL"
        )
        container_id = str(made["Id"])
        with self._lock:
            self._made.add(container_id)
            self._known.add(container_id)
        self._api.start(container_id)
        return Box(container_id, name)

    def owns(self, container_id: str) -> bool:
        """Whether this run made the container (known before it starts)."""
        with self._lock:
            return container_id in self._known

    def remove(self, boxes: Sequence[Box]) -> None:
        """Remove these (paused ones too)."""
        list(self._pool.map(self._remove_one, [box.id for box in boxes]))

    def _remove_one(self, container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._api.remove_container(container_id, force=True)
        with self._lock:
            self._made.discard(container_id)

    def remove_all(self) -> tuple[int, list[str]]:
        """Every container of this run, found by label as well as remembered; (removed, failures)."""
        self._pool.shutdown(wait=True, cancel_futures=True)  # nothing is made after this
        found = {str(c["Id"]) for c in self._api.containers(all=True, filters=self.filters())}
        with self._lock:
            ids = sorted(found | self._made)
        failures = []
        removed = 0
        with ThreadPoolExecutor(CREATE_THREADS, thread_name_prefix="cleanup") as pool:
            for container_id, error in zip(ids, pool.map(self._try_remove, ids), strict=True):
                if error:
                    failures.append(f"{container_id[:12]}: {error}")
                else:
                    removed += 1
        return removed, failures

    def _try_remove(self, container_id: str) -> str | None:
        try:
            self._api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, OSError) as exc:
            return str(exc)
        return None

    def filters(self) -> dict[str, Any]:
        """The Docker filter that selects this run's containers."""
        return {"label": f"{LABEL}={self.run_id}"}


def remove_boxes(boxes: Boxes, stderr: IO[str]) -> bool:
    """Remove every container of the run, uninterrupted by Ctrl-C; True when none is left."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        removed, failures = boxes.remove_all()
    finally:
        signal.signal(signal.SIGINT, previous)
    if removed:
        print(f"removed {removed} leftover container(s) of this run", file=stderr)
    for failure in failures:
        print(f"could not remove {failure}", file=stderr)
    if failures:
        print(
            f"remove them with: docker rm -f $(docker ps -aq --filter label={LABEL})", file=stderr
        )
    return not failures
