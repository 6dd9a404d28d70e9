"""The Docker containment actions: snapshot, isolate, pause, stop, kill."""

from __future__ import annotations

import signal
from typing import ClassVar

from pydantic import ByteSize, Field, field_validator

from responder.actions._base import Action, ActionParams

__all__ = ["Isolate", "Kill", "Pause", "Snapshot", "Stop"]


class SnapshotParams(ActionParams):
    """Which evidence to take, most volatile first, and how much of it."""

    top: bool = Field(default=True, description="processes, as `docker top` lists them")
    inspect: bool = Field(default=True, description="the container's full `inspect` document")
    logs: bool = Field(default=True, description="stdout/stderr with timestamps")
    log_tail: int | None = Field(default=None, ge=1, description="only the last N log lines")
    diff: bool = Field(default=True, description="filesystem changes against the image")
    export: bool = Field(default=False, description="the whole filesystem as a tar, streamed")
    commit: bool = Field(default=False, description="an image tagged with the incident id")
    max_bytes: ByteSize = Field(
        default=ByteSize(2 << 30), description="cap on the export; larger is cut and marked"
    )


class Snapshot(Action):
    """Forensic evidence with a hashed manifest."""

    name: ClassVar[str] = "docker:snapshot"
    summary: ClassVar[str] = (
        "forensic evidence, most volatile first (top, inspect, logs, diff, export/commit), "
        "with a sha256 manifest"
    )
    undo: ClassVar[str] = "nothing: evidence is kept"
    changes_container: ClassVar[bool] = False
    params: ClassVar[type[ActionParams]] = SnapshotParams

    def describe(self, params: SnapshotParams, target: str | None) -> str:
        """List the parts it takes."""
        parts = [
            n for n in ("top", "inspect", "logs", "diff", "export", "commit") if getattr(params, n)
        ]
        return f"snapshot {target}: {', '.join(parts) or 'nothing selected'}"


class IsolateParams(ActionParams):
    """Which networks to leave, and where to go instead."""

    networks: list[str] | None = Field(
        default=None, description="networks to disconnect; all of them when not given"
    )
    quarantine_network: str | None = Field(
        default=None,
        min_length=1,
        description="internal network to attach afterwards, created if missing",
    )


class Isolate(Action):
    """Cut the container off its networks."""

    name: ClassVar[str] = "docker:isolate"
    summary: ClassVar[str] = (
        "disconnect from every network (or the named ones), remembering each endpoint's settings"
    )
    undo: ClassVar[str] = "reconnect each network with its recorded aliases, addresses and links"
    changes_container: ClassVar[bool] = True
    params: ClassVar[type[ActionParams]] = IsolateParams

    def describe(self, params: IsolateParams, target: str | None) -> str:
        """Say which networks go, and what replaces them."""
        which = ", ".join(params.networks) if params.networks else "every network"
        then = f", then attach {params.quarantine_network}" if params.quarantine_network else ""
        return f"disconnect {target} from {which}{then}"


class NoParams(ActionParams):
    """This action takes no parameters."""


class Pause(Action):
    """Freeze every process in the container."""

    name: ClassVar[str] = "docker:pause"
    summary: ClassVar[str] = "freeze all processes (cgroup freezer); memory stays for forensics"
    undo: ClassVar[str] = "unpause"
    changes_container: ClassVar[bool] = True
    params: ClassVar[type[ActionParams]] = NoParams

    def describe(self, params: NoParams, target: str | None) -> str:
        """One line."""
        del params
        return f"pause {target}"


class StopParams(ActionParams):
    """Grace before the engine kills."""

    timeout: int = Field(
        default=10, ge=0, le=3600, description="seconds between SIGTERM and SIGKILL"
    )


class Stop(Action):
    """Stop the container."""

    name: ClassVar[str] = "docker:stop"
    summary: ClassVar[str] = "stop: SIGTERM, then SIGKILL after the timeout"
    undo: ClassVar[str] = "start the container again"
    changes_container: ClassVar[bool] = True
    params: ClassVar[type[ActionParams]] = StopParams

    def describe(self, params: StopParams, target: str | None) -> str:
        """One line."""
        return f"stop {target} (SIGKILL after {params.timeout}s)"


class KillParams(ActionParams):
    """Which signal to send."""

    signal: str = Field(default="SIGKILL", description="signal name, e.g. SIGKILL or SIGTERM")

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, value: str) -> str:
        name = value.upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        if name not in signal.Signals.__members__:
            raise ValueError(f"unknown signal {value!r}")
        return name


class Kill(Action):
    """Send a signal to the container's main process."""

    name: ClassVar[str] = "docker:kill"
    summary: ClassVar[str] = "send a signal (SIGKILL by default) to the main process"
    undo: ClassVar[str] = "nothing: a killed process cannot be revived; start it anew by hand"
    changes_container: ClassVar[bool] = True
    params: ClassVar[type[ActionParams]] = KillParams

    def describe(self, params: KillParams, target: str | None) -> str:
        """One line."""
        return f"send {params.signal} to {target}"
