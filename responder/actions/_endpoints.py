"""Network endpoints: what docker:isolate records about each attachment, and how it is put back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import docker.errors
from docker.utils import version_lt
from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from responder.actions._containers import explain
from responder.actions._evidence_file import EvidenceFile, json_bytes, private_dir
from responder.errors import PermanentError

if TYPE_CHECKING:
    import threading
    from collections.abc import Mapping
    from pathlib import Path

    from responder.actions._containers import Live

__all__ = [
    "QUARANTINE_LABEL",
    "Endpoint",
    "Isolation",
    "attached",
    "disconnect",
    "ensure_quarantine",
    "reconnect",
]

QUARANTINE_LABEL = "responder.quarantine"
_MAC_ON_CONNECT = "1.44"  # older engines take the MAC address per container, not per endpoint


class Endpoint(BaseModel):
    """One network attachment as the engine reported it before isolation."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    network_id: str | None = None
    aliases: list[str] = []
    """Network-scoped aliases, without the short container id Docker adds by itself."""
    ipv4_address: str | None = None
    """A static address (`--ip`); None when Docker chose it."""
    ipv6_address: str | None = None
    link_local_ips: list[str] = []
    links: list[str] = []
    """`container:alias`, as inspect shows them."""
    driver_opts: dict[str, str] = {}
    mac_address: str | None = None
    ip_address: str | None = None
    """The address it had, for the record; only `ipv4_address` is asked for again."""

    @classmethod
    def from_inspect(cls, settings: Mapping[str, Any], short_id: str) -> Endpoint:
        """From `NetworkSettings.Networks[name]` of the container's inspect document."""
        ipam = settings.get("IPAMConfig") or {}
        return cls(
            network_id=settings.get("NetworkID") or None,
            aliases=[a for a in settings.get("Aliases") or [] if a != short_id],
            ipv4_address=ipam.get("IPv4Address") or None,
            ipv6_address=ipam.get("IPv6Address") or None,
            link_local_ips=list(ipam.get("LinkLocalIPs") or []),
            links=list(settings.get("Links") or []),
            driver_opts=dict(settings.get("DriverOpts") or {}),
            mac_address=settings.get("MacAddress") or None,
            ip_address=settings.get("IPAddress") or None,
        )

    def connect_kwargs(self, api_version: str) -> dict[str, Any]:
        """Keyword arguments for the SDK's `connect_container_to_network`."""
        kwargs: dict[str, Any] = {
            "aliases": self.aliases or None,
            "links": [_link(text) for text in self.links] or None,
            "ipv4_address": self.ipv4_address,
            "ipv6_address": self.ipv6_address,
            "link_local_ips": self.link_local_ips or None,
            "driver_opt": self.driver_opts or None,
        }
        if self.mac_address and not version_lt(api_version, _MAC_ON_CONNECT):
            kwargs["mac_address"] = self.mac_address
        return kwargs


def _link(text: str) -> tuple[str, str | None]:
    name, _, alias = text.partition(":")
    return name, alias or None


class Isolation(BaseModel):
    """What isolate changed, and so what release undoes: the step's `undo`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    networks: dict[str, Endpoint] = {}
    """Networks it left, by name, with the settings to reconnect with."""
    quarantine: str | None = None
    """The quarantine network it attached, if it did."""

    @property
    def empty(self) -> bool:
        """Nothing to undo."""
        return not self.networks and self.quarantine is None

    def undo(self) -> dict[str, JsonValue]:
        """As stored with the step."""
        return self.model_dump(mode="json")

    @classmethod
    def from_undo(cls, undo: Mapping[str, JsonValue]) -> Isolation:
        """Back from a stored step; a record isolate did not write is a PermanentError."""
        try:
            return cls.model_validate(undo)
        except ValidationError as exc:
            raise PermanentError(f"not an isolate undo record: {exc}") from None

    @classmethod
    def load(cls, path: Path, container_id: str) -> Isolation | None:
        """What an earlier attempt of this step recorded for this container, if anything."""
        try:
            document = json.loads(path.read_bytes())
            if document.get("container") != container_id:
                return None
            return cls.model_validate(document)
        except (OSError, ValueError, AttributeError):
            return None

    def save(self, path: Path, container_id: str) -> None:
        """Keep the record before changing anything: a retry after a crash half-way still has it."""
        private_dir(path.parent)
        with EvidenceFile(path) as out:
            out.write(json_bytes({"container": container_id, **self.undo()}))


def attached(now: Live) -> dict[str, dict[str, Any]]:
    """The networks the container is on, by name, with their endpoint settings.

    A running container's entry without an endpoint is what a failed connect leaves behind on
    some engines (20.10): it is not an attachment.
    """
    networks = (now.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return {
        name: settings or {}
        for name, settings in networks.items()
        if not now.running or (settings or {}).get("EndpointID")
    }


def disconnect(client: docker.DockerClient, container_id: str, network: str) -> None:
    """Disconnect politely first, then by force (a stale endpoint refuses the polite way)."""
    try:
        client.api.disconnect_container_from_network(container_id, network)
    except docker.errors.NotFound:
        raise
    except docker.errors.APIError:
        client.api.disconnect_container_from_network(container_id, network, force=True)


def ensure_quarantine(client: docker.DockerClient, name: str, lock: threading.Lock) -> None:
    """Create the quarantine network (internal bridge) if missing; refuse one that is not internal."""
    with lock:  # two containers isolated at once must not create two networks of one name
        try:
            network = client.api.inspect_network(name)
        except docker.errors.NotFound:
            client.api.create_network(
                name,
                driver="bridge",
                internal=True,
                labels={QUARANTINE_LABEL: "true"},
                check_duplicate=True,
            )
            return
    if not network.get("Internal"):
        raise PermanentError(
            f"quarantine network {name} exists but is not internal: attaching it would not isolate"
        )


def reconnect(client: docker.DockerClient, now: Live, name: str, endpoint: Endpoint) -> str | None:
    """Connect `name` again with the recorded settings; None when done, else why not."""
    try:
        network = client.api.inspect_network(name)
    except docker.errors.NotFound:
        return "the network no longer exists"
    taken = _address_taken(network, endpoint, now.id)
    if taken:
        # Checked first: some engines keep a half-made endpoint after a refused connect,
        # and the container then cannot start until it is disconnected while stopped.
        return taken
    try:
        client.api.connect_container_to_network(
            now.id, name, **endpoint.connect_kwargs(client.api.api_version)
        )
    except docker.errors.NotFound:
        return "the network no longer exists"
    except docker.errors.APIError as exc:
        return explain(exc)
    return None


def _address_taken(network: Mapping[str, Any], endpoint: Endpoint, container_id: str) -> str | None:
    wanted = {a for a in (endpoint.ipv4_address, endpoint.ipv6_address) if a}
    for holder_id, holder in (network.get("Containers") or {}).items():
        if holder_id == container_id:
            continue
        held = {
            str(holder.get(key) or "").partition("/")[0] for key in ("IPv4Address", "IPv6Address")
        }
        for address in sorted(wanted & held):
            return f"address {address} is taken by {holder.get('Name') or holder_id[:12]}"
    return None
