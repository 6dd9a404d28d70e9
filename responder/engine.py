"""The one seam for the blocking Docker SDK: every call runs in a bounded thread pool."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import docker
import docker.errors
import requests.exceptions

from responder.containers import ContainerInfo
from responder.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from collections.abc import Callable

    from responder.settings import DockerSettings

__all__ = ["DockerEngine", "SdkEngine", "classify", "probe_socket"]

T = TypeVar("T")
_SERVER_ERROR = 500
_DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class DockerEngine(Protocol):
    """What the responder needs from a Docker engine; actions grow this, one method at a time."""

    async def run(self, fn: Callable[[docker.DockerClient], T]) -> T:
        """Run `fn(client)` off the event loop; SDK errors come back classified."""

    async def ping(self) -> None:
        """Return if the engine answers; raise TransientError if not."""

    async def version(self) -> dict[str, Any]:
        """The engine's version information."""

    async def container(self, ref: str) -> ContainerInfo | None:
        """The container by id or name, or None if the engine has no such container."""

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

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

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

    async def container(self, ref: str) -> ContainerInfo | None:
        """Inspect by id or name; None when it does not exist."""

        def inspect(client: docker.DockerClient) -> ContainerInfo | None:
            try:
                attrs = client.api.inspect_container(ref)
            except docker.errors.NotFound:
                return None
            return ContainerInfo.from_inspect(attrs)

        return await self.run(inspect)

    async def close(self) -> None:
        """Close the client's connections and stop the pool."""
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
            self._client = None
