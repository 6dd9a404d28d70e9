"""Containers, networks and images made on the real engine for a test, and removed after it."""

from __future__ import annotations

import contextlib
import secrets
import time
from typing import Any

import docker.errors
from docker.types import IPAMConfig, IPAMPool

from responder.containers import ContainerInfo

__all__ = ["Resources", "wait_for"]

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
        self._containers: list[str] = []
        self._networks: list[str] = []
        self._images: list[str] = []

    def name(self, kind: str) -> str:
        """A name no other test uses."""
        return f"responder-test-{kind}-{self.suffix}-{secrets.token_hex(2)}"

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
        **host: Any,
    ) -> ContainerInfo:
        """A running container of the test image, on `networks` ({name: connect kwargs}) if given.

        `host` goes to the host config (`network_mode`, `log_config`, ...).
        """
        name = self.name("ctr")
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
