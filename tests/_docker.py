"""Containers, networks and images made on the real engine for a test, and removed after it."""

from __future__ import annotations

import contextlib
import itertools
import secrets
import threading
import time
from collections import Counter
from typing import Any

import docker.errors
from docker.types import IPAMConfig, IPAMPool

from responder.engine import ContainerInfo

__all__ = ["ACTION_INCIDENT", "EngineEvents", "Resources", "wait_for"]


ACTION_INCIDENT = "01JTEST0INCIDENT0ACTIONS00"
"""The incident id of the action tests' context (the `ctx` fixture)."""
SLEEPER = ["sleep", "300"]


def wait_for(check: Any, what: str, timeout: float = 10.0) -> None:
    """Poll `check()` until it is true, or fail saying `what` never happened."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Resources:
    """Everything a test creates on the engine, named uniquely, removed in `cleanup`."""

    def __init__(self, client: docker.DockerClient, image: str) -> None:
        self.client = client
        self.api = client.api
        self.image = image
        self.suffix = secrets.token_hex(4)
        self._made = itertools.count(1)
        self._containers: list[str] = []
        self._networks: list[str] = []
        self._images: list[str] = []

    def name(self, kind: str) -> str:
        """A name no other test uses."""
        # Numbered, not random: 16 random 4-digit tails collide about once in 500 tests.
        return f"responder-test-{kind}-{self.suffix}-{next(self._made)}"

    def network(self, *, subnet: bool = False) -> tuple[str, str | None]:
        """A user-defined bridge network; with `subnet`, one of its own (for static addresses).

        Returns its name and, with `subnet`, a free static address in it.
        """
        name = self.name("net")
        self._networks.append(name)
        if not subnet:
            self.api.create_network(name, driver="bridge")
            return name, None
        for _ in range(20):
            prefix = f"10.{secrets.randbelow(150) + 100}.{secrets.randbelow(256)}"
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=f"{prefix}.0/24")])
            try:
                self.api.create_network(name, driver="bridge", ipam=ipam)
            except docker.errors.APIError as exc:  # the pool overlaps another network: try again
                last = exc
                continue
            return name, f"{prefix}.10"
        raise AssertionError(f"no free subnet for a test network: {last}")

    def adopt_network(self, name: str) -> None:
        """Remove this network too (one the code under test created)."""
        self._networks.append(name)

    def adopt_image(self, ref: str) -> None:
        """Remove this image too."""
        self._images.append(ref)

    def container(
        self,
        *,
        networks: dict[str, dict[str, Any]] | None = None,
        command: list[str] | None = None,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        **host: Any,
    ) -> ContainerInfo:
        """A running container of the test image, on `networks` ({name: connect kwargs}) if given.

        `name`: its own name instead of a unique one; `labels`: its Docker labels; `host` goes to
        the host config (`network_mode`, `log_config`, ...).
        """
        name = name or self.name("ctr")
        networks = dict(networks or {})
        first = next(iter(networks), None)
        networking: dict[str, Any] | None = None
        if first is not None:
            host.setdefault("network_mode", first)
            config = self.api.create_endpoint_config(**networks.pop(first))
            networking = {"EndpointsConfig": {first: config}}
        created = self.api.create_container(
            self.image,
            command or SLEEPER,
            name=name,
            labels=labels,
            host_config=self.api.create_host_config(**host),
            networking_config=networking,
        )
        self._containers.append(created["Id"])
        for network, settings in networks.items():
            self.api.connect_container_to_network(created["Id"], network, **settings)
        self.api.start(created["Id"])
        return self.info(created["Id"])

    def info(self, ref: str) -> ContainerInfo:
        """The container as the engine describes it now."""
        return ContainerInfo.from_inspect(self.api.inspect_container(ref))

    def inspect(self, ref: str) -> dict[str, Any]:
        """The engine's inspect document."""
        attrs: dict[str, Any] = self.api.inspect_container(ref)
        return attrs

    def networks_of(self, ref: str) -> dict[str, dict[str, Any]]:
        """`NetworkSettings.Networks` of the container now."""
        networks: dict[str, dict[str, Any]] = self.inspect(ref)["NetworkSettings"]["Networks"]
        return networks

    def exec(self, ref: str, command: list[str]) -> int:
        """Run `command` in the container; its exit code."""
        created = self.api.exec_create(ref, command)
        self.api.exec_start(created["Id"])
        code: int = self.api.exec_inspect(created["Id"])["ExitCode"]
        return code

    def remove_container(self, ref: str) -> None:
        """Remove it now (for tests about containers that are gone)."""
        self.api.remove_container(ref, force=True)

    def cleanup(self) -> None:
        """Containers first (they hold the networks), then networks, then images."""
        for ref in self._containers:
            with contextlib.suppress(docker.errors.NotFound):
                self.api.remove_container(ref, force=True)
        for name in self._networks:
            with contextlib.suppress(docker.errors.NotFound):
                self.api.remove_network(name)
        for ref in self._images:
            with contextlib.suppress(docker.errors.ImageNotFound):
                self.api.remove_image(ref, force=True)


class EngineEvents:
    """The engine's pause, unpause, connect and disconnect events from now on, read in a thread.

    The engine replays only its last 256 events to `since`: a test that makes many containers
    must listen while it runs, not ask afterwards.
    """

    ACTIONS = ("pause", "unpause", "connect", "disconnect")

    def __init__(self, client: docker.DockerClient) -> None:
        filters = {"type": ["container", "network"], "event": list(self.ACTIONS)}
        self._stream = client.api.events(filters=filters, decode=True)  # subscribed on return
        self._events: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="engine-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # closed by close(), or the engine went away
            for raw in self._stream:
                actor = raw.get("Actor") or {}
                # A network event names the container in its attributes; a container event is it.
                container = str((actor.get("Attributes") or {}).get("container") or actor.get("ID"))
                with self._lock:
                    self._events.append((int(raw["timeNano"]), str(raw["Action"]), container))

    def actions(self, container_id: str, before_ns: int | None = None) -> Counter[str]:
        """How often each action happened to the container (before `before_ns`, if given).

        `container_id` may be the short id: the engine's events give the full one.
        """
        with self._lock:
            return Counter(
                action
                for at, action, container in self._events
                if container.startswith(container_id) and (before_ns is None or at < before_ns)
            )

    def close(self) -> None:
        """Stop listening."""
        self._stream.close()
        self._thread.join(10)
