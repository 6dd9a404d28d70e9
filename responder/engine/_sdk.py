"""The one seam for the blocking Docker SDK: every call runs in a bounded thread pool."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import docker
import docker.errors
import requests.exceptions

from responder.engine._containers import (
    ContainerInfo,
    is_container_ref,
    is_full_id,
    is_id_prefix,
    reference,
)
from responder.engine._resolve import inspect_one, resolve_in
from responder.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from responder.engine._settings import DockerSettings
    from responder.journal import Target

__all__ = ["Abandoned", "DockerEngine", "SdkEngine", "abandoned_calls", "classify", "probe_socket"]

T = TypeVar("T")
_SERVER_ERROR = 500
_DEFAULT_SOCKET = "unix:///var/run/docker.sock"


@dataclass
class Abandoned:
    """Engine calls whose caller stopped waiting (a step's timeout) while their thread ran on.

    A thread cannot be cancelled: the call still reaches the engine and may still change the
    container. Whoever gave up collects them here and `settle`s them, to learn what they did.
    """

    calls: list[tuple[asyncio.Future[Any], float]] = field(default_factory=list)
    """Each call, with the monotonic time by which the engine's own call timeout ends it."""

    async def settle(self) -> list[asyncio.Future[Any]]:
        """Wait until each call has ended or its engine's own call timeout has passed."""
        now = time.monotonic()
        deadline = max((until for _, until in self.calls), default=now)
        pending = [call for call, _ in self.calls if not call.done()]
        if pending and deadline > now:
            await asyncio.wait(pending, timeout=deadline - now)
        return [call for call, _ in self.calls]


_ABANDONED: ContextVar[Abandoned | None] = ContextVar("abandoned_engine_calls", default=None)


@contextlib.contextmanager
def abandoned_calls() -> Iterator[Abandoned]:
    """Collect the engine calls this task (and what it awaits) gives up on while inside."""
    abandoned = Abandoned()
    token = _ABANDONED.set(abandoned)
    try:
        yield abandoned
    finally:
        _ABANDONED.reset(token)


def _retrieve(call: asyncio.Future[Any]) -> None:
    """Mark an abandoned call's error as seen: nobody may be waiting for it."""
    if not call.cancelled():
        call.exception()


class DockerEngine(Protocol):
    """What the responder needs from a Docker engine; actions grow this, one method at a time."""

    async def run(self, fn: Callable[[docker.DockerClient], T]) -> T:
        """Run `fn(client)` off the event loop; SDK errors come back classified."""

    async def ping(self) -> None:
        """Return if the engine answers; raise TransientError if not."""

    async def version(self) -> dict[str, Any]:
        """The engine's version information."""

    async def container(self, container_id: str) -> ContainerInfo | None:
        """The container with this full 64-hex id, or None if the engine has no such container."""

    async def resolve(self, target: Target) -> ContainerInfo | None:
        """The one container an alert's reference names, by the rule of `answers_to`, or None."""

    async def close(self) -> None:
        """Release connections and threads."""


def classify(exc: Exception) -> Exception:
    """Map an SDK or transport error onto our hierarchy: transient is retried, permanent is not."""
    if isinstance(exc, docker.errors.NotFound):
        return PermanentError(f"not found: {exc.explanation or exc}")
    if isinstance(exc, docker.errors.APIError):
        status = exc.status_code or _SERVER_ERROR
        kind = TransientError if status >= _SERVER_ERROR else PermanentError
        return kind(f"Docker API error {status}: {exc.explanation or exc}")
    if isinstance(exc, requests.exceptions.RequestException | docker.errors.DockerException):
        return TransientError(f"Docker engine unreachable: {exc}")
    if isinstance(exc, OSError):
        return TransientError(f"Docker engine unreachable: {exc}")
    return exc


def probe_socket(url: str | None, timeout: float) -> None:
    """Connect to a Unix-socket engine with a socket we close ourselves; TransientError if none.

    The SDK leaks its socket when a Unix-socket connect fails (docker/docker-py#3356), so
    look first; it also words the error better. Other transports are left to the SDK.
    """
    address = url or os.environ.get("DOCKER_HOST") or _DEFAULT_SOCKET
    if not address.startswith("unix://"):
        return
    path = address.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(path)
        except OSError as exc:
            raise TransientError(f"Docker engine unreachable at unix://{path}: {exc}") from None


class SdkEngine:
    """The docker SDK behind `DockerEngine`.

    The client is made on first use, so a missing engine at start-up is a readiness failure,
    not a crash.
    """

    def __init__(self, settings: DockerSettings, *, max_workers: int = 8) -> None:
        self._settings = settings
        self._max_workers = max_workers
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="docker")
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    def _get_client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                probe_socket(self._settings.url, self._settings.timeout)
                # "auto" asks the engine its API version, so that old and new engines both work.
                kwargs: dict[str, Any] = {
                    "version": "auto",
                    "timeout": self._settings.timeout,
                    "max_pool_size": self._max_workers,  # one connection per worker thread
                }
                if self._settings.url:
                    self._client = docker.DockerClient(base_url=self._settings.url, **kwargs)
                else:
                    self._client = docker.from_env(**kwargs)
                if self._client.api.base_url.startswith("http+docker://"):
                    # A local socket (or ssh) goes through no HTTP proxy; without this,
                    # requests reads the proxy variables again on every call.
                    self._client.api.trust_env = False
            return self._client

    async def run(self, fn: Callable[[docker.DockerClient], T]) -> T:
        """Run `fn(client)` off the event loop; SDK errors come back classified."""

        def call() -> T:
            try:
                return fn(self._get_client())
            except Exception as exc:
                if isinstance(exc, requests.exceptions.ConnectionError):
                    self._forget_client()
                mapped = classify(exc)
                if mapped is exc:
                    raise
                raise mapped from exc

        running = asyncio.get_running_loop().run_in_executor(self._executor, call)
        running.add_done_callback(_retrieve)
        try:
            # Shielded: given up on, the thread still runs, and its answer is kept for settle().
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            abandoned = _ABANDONED.get()
            if abandoned is not None and not running.done():
                abandoned.calls.append((running, time.monotonic() + self._settings.timeout))
            raise

    def _forget_client(self) -> None:
        """After a refused connection, start again from our own socket probe.

        docker-py leaves the refused socket unclosed (docker/docker-py#3356); collecting it now
        closes its descriptor, and until the engine answers again the probe, not the SDK,
        meets the refusals.
        """
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()

    async def ping(self) -> None:
        """Raise TransientError if the engine does not answer."""
        await self.run(lambda client: client.ping())

    async def version(self) -> dict[str, Any]:
        """The engine's `/version` answer."""
        return await self.run(lambda client: dict(client.version()))

    async def container(self, container_id: str) -> ContainerInfo | None:
        """The container with this full id, or None when it is gone (or `container_id` is no full id)."""
        if not is_full_id(container_id):
            return None
        return await self.run(lambda client: inspect_one(client, container_id))

    async def resolve(self, target: Target) -> ContainerInfo | None:
        """The one container the alert's reference names (`answers_to`), or None.

        The engine would resolve a reference its own way (any id prefix, or a name that looks
        like another's id), so what it returns is checked against the rule, and an id prefix
        the engine answered by name is looked up again among the ids.
        """
        ref, kind = reference(target)
        if not is_container_ref(ref) or (kind == "id" and not is_id_prefix(ref)):
            return None
        return await self.run(lambda client: resolve_in(client, target, ref))

    async def close(self) -> None:
        """Close the client's connections and stop the pool."""
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
            self._client = None
