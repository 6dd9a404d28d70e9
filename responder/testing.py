"""Test support shipped with the package: an engine in memory, and an image made without a registry.

`FakeEngine` stands in for `SdkEngine` behind the same `DockerEngine` protocol where a test
needs containers to be looked up but not acted on (tests/test_engine_contract.py holds the two
to the same answers). The test suite and the benchmarks both need a small image on machines
that reach no registry; `ensure_test_image` builds it from the host's static busybox (Debian
package `busybox-static`).
"""

from __future__ import annotations

import functools
import io
import secrets
import shutil
import tarfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import docker
import docker.errors

from responder.engine import (
    ContainerInfo,
    answers_to,
    is_container_ref,
    is_full_id,
    is_id_prefix,
    reference,
)
from responder.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from responder.journal import Target

__all__ = [
    "TEST_IMAGE",
    "FakeContainer",
    "FakeEngine",
    "NotFakedError",
    "busybox_tar",
    "ensure_test_image",
]

T = TypeVar("T")

TEST_IMAGE = "responder-test/busybox:1"
_APPLETS = ("sh", "sleep", "ls", "cat", "echo", "top", "ps", "touch", "id")


def busybox_tar() -> bytes:
    """A one-binary root filesystem: the host's static busybox, applet links and `/tmp`."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in _APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        tmp = tarfile.TarInfo("tmp")
        tmp.type = tarfile.DIRTYPE
        tmp.mode = 0o1777
        tar.addfile(tmp)
    return buffer.getvalue()


def ensure_test_image(client: docker.DockerClient, image: str = TEST_IMAGE) -> bool:
    """Import the image when the engine lacks it; True when it was imported just now."""
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        repository, tag = image.split(":")
        client.api.import_image_from_data(busybox_tar(), repository=repository, tag=tag)
        return True
    return False


class NotFakedError(PermanentError):
    """`FakeEngine.run`: the fake holds no Docker SDK client; actions need a real engine."""


@dataclass
class FakeContainer:
    """One container as `FakeEngine` holds it; change its fields to change what the engine says."""

    id: str
    name: str
    image: str = TEST_IMAGE
    labels: dict[str, str] = field(default_factory=dict)
    status: str = "running"
    networks: list[str] = field(default_factory=lambda: ["bridge"])

    @property
    def info(self) -> ContainerInfo:
        """What the engine's `inspect` of it would read as."""
        return ContainerInfo(self.id, self.name, self.image, dict(self.labels), self.status)


class FakeEngine:
    """A Docker engine in memory, behind the `DockerEngine` protocol.

    It answers what the worker, the gates and `release` ask before they act: `ping`,
    `version`, `container` by full id and `resolve` by the one rule (`answers_to`), from the
    containers it holds, with the real engine's answers (tests/test_engine_contract.py). It
    does not run Docker SDK calls: `run` raises `NotFakedError` naming the call, so a test
    that reaches an action needs `SdkEngine` and a real engine. `calls` lists every question
    asked, in order; with `reachable` False every call that would reach the engine raises
    TransientError, as an engine that does not answer does. `networks` is held for tests to
    read and set: nothing the fake answers depends on it.
    """

    def __init__(self, containers: Iterable[FakeContainer] = ()) -> None:
        self.containers: dict[str, FakeContainer] = {c.id: c for c in containers}
        self.calls: list[tuple[str, str]] = []
        """(method, argument) of each call: `("resolve", target.ref)`, `("ping", "")`, ..."""
        self.reachable = True
        self.closed = False

    def add(
        self,
        name: str | None = None,
        *,
        image: str = TEST_IMAGE,
        labels: dict[str, str] | None = None,
        status: str = "running",
        networks: Iterable[str] = ("bridge",),
        container_id: str | None = None,
    ) -> ContainerInfo:
        """Hold a new container (a random full id, a unique name unless given); its info."""
        container_id = container_id or secrets.token_hex(32)
        name = name or f"fake-{container_id[:12]}"
        if not is_full_id(container_id):
            raise ValueError(f"{container_id!r} is not a full container id (64 hex digits)")
        if not is_container_ref(name) or name.startswith("/"):
            raise ValueError(f"invalid container name {name!r}")
        if container_id in self.containers or name in {c.name for c in self.containers.values()}:
            raise ValueError(f"Conflict: a container is already named {name!r} or has that id")
        held = FakeContainer(container_id, name, image, dict(labels or {}), status, [*networks])
        self.containers[container_id] = held
        return held.info

    def remove(self, container_id: str) -> None:
        """Forget the container with this full id, as `docker rm -f` would."""
        del self.containers[container_id]

    def _ask(self, method: str, argument: str = "", *, asks_engine: bool = True) -> None:
        """Log the call; fail it as SdkEngine would, closed or not answered, if it asks the engine."""
        self.calls.append((method, argument))
        if not asks_engine:
            return  # SdkEngine answers a reference that can name nothing without any engine
        if self.closed:
            raise RuntimeError("cannot schedule new futures after shutdown")  # as SdkEngine's pool
        if not self.reachable:
            raise TransientError("Docker engine unreachable: FakeEngine.reachable is False")

    async def run(self, fn: Callable[[docker.DockerClient], T]) -> T:
        """Refuse: the fake has no SDK client. NotFakedError names the call it was handed."""
        call = _name_of(fn)
        self._ask("run", call)
        raise NotFakedError(
            f"FakeEngine does not run Docker SDK calls (engine.run({call})): it answers ping, "
            "version, container and resolve from memory; act on containers with SdkEngine"
        )

    async def ping(self) -> None:
        """Return: the fake engine answers (unless `reachable` is False)."""
        self._ask("ping")

    async def version(self) -> dict[str, Any]:
        """A `/version` answer of the engine's shape, naming the fake."""
        self._ask("version")
        return {
            "Platform": {"Name": "responder FakeEngine"},
            "Version": "0.0.0-fake",
            "ApiVersion": "1.41",
            "MinAPIVersion": "1.12",
            "Os": "linux",
            "Arch": "amd64",
            "Components": [{"Name": "Engine", "Version": "0.0.0-fake", "Details": {}}],
        }

    async def container(self, container_id: str) -> ContainerInfo | None:
        """The held container with this full id; None for anything else, as the real engine."""
        self._ask("container", container_id, asks_engine=is_full_id(container_id))
        held = self.containers.get(container_id) if is_full_id(container_id) else None
        return held.info if held is not None else None

    async def resolve(self, target: Target) -> ContainerInfo | None:
        """The one held container the reference names by `answers_to`; None for none or two."""
        ref, kind = reference(target)
        can_name = is_container_ref(ref) and (kind == "name" or is_id_prefix(ref))
        self._ask("resolve", target.ref, asks_engine=can_name)
        if not can_name:
            return None
        named = [c.info for c in self.containers.values() if answers_to(target, c.info)]
        return named[0] if len(named) == 1 else None

    async def close(self) -> None:
        """Answer nothing more."""
        self.closed = True


def _name_of(fn: Callable[..., Any]) -> str:
    """A call's name for an error message: the function a `partial` wraps, else its own name."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return str(getattr(fn, "__qualname__", repr(fn)))
