"""A private second dockerd, beside the main one, that a fault test may stop and start at will.

It keeps everything of its own under one short temporary directory: data, execution state,
its own managed containerd, its socket, its log, and a network namespace of its own, in which
its bridges and the host ends of its containers' links live. The main engine on
/var/run/docker.sock, which other tests use, is never touched, nor is the host's network: a
dockerd started with `--bridge=none` in the host's namespace deletes the host's `docker0`,
the main engine's default bridge. It makes no iptables rules and runs with `--live-restore`,
so that its containers outlive a stop.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

import docker
import docker.errors

from responder.testing import TEST_IMAGE, ensure_test_image

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["PrivateDockerd"]

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
_MNT_DETACH = 2
_DEFAULT_NETWORKS = frozenset({"bridge", "host", "none"})


class PrivateDockerd:
    """`dockerd` on its own data root and socket; `start`, `stop` and `start` again.

    Every wait has a deadline, and a failure quotes the end of the daemon's log. As a context
    manager it starts the daemon and always cleans up: containers and networks removed, the
    daemon stopped, anything still mounted under its directory unmounted, the directory removed.
    """

    def __init__(self) -> None:
        # Short: the sockets under it (the API's, containerd's) must fit a Unix socket path.
        self.root = Path(tempfile.mkdtemp(prefix="rd-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.log = self.root / "dockerd.log"
        self.config = self.root / "daemon.json"
        self.config.write_text("{}\n")  # never /etc/docker/daemon.json, meant for the main one
        self.netns = self.root / "netns"
        """The daemon's network namespace, kept by a bind mount on this file across restarts."""
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """The engine address, for DOCKER_HOST or `docker.url`."""
        return f"unix://{self.socket}"

    @property
    def running(self) -> bool:
        """The daemon process is alive (it may not answer yet)."""
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        """The daemon's command line: dockerd inside its network namespace."""
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise AssertionError("dockerd not found: install it with `apt-get install docker.io`")
        return [
            "nsenter",  # util-linux; the network namespace only: mounts stay the host's
            f"--net={self.netns}",
            "--",
            dockerd,
            "--config-file",
            str(self.config),
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "dockerd.pid"),
            "--host",
            self.url,
            "--bridge=none",  # no default bridge: the test makes the network it needs
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",  # leave the host's forwarding setting alone
            "--ip-masq=false",
            "--live-restore",  # its containers outlive a stop, as in production
        ]

    def tail(self, lines: int = 40) -> str:
        """The end of the daemon's log (every start appends to it)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError as exc:
            return f"(no dockerd log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def answers(self) -> bool:
        """`GET /_ping` on the socket answers 200, with a socket closed here (no SDK)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(2)
                probe.connect(str(self.socket))
                probe.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return probe.recv(64).startswith(b"HTTP/1.0 200")
        except OSError:
            return False

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the daemon and wait until it answers; fail with its log if it does not."""
        if self.running:
            raise AssertionError("the private dockerd is already running")
        self._ensure_netns()
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a ^C to pytest reaches the cleanup, not the daemon
            )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the private dockerd exited ({self.process.returncode}) at start:\n"
                    f"{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the private dockerd did not answer within {timeout:g} s:\n{self.tail()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM and wait until it has exited; SIGKILL past `timeout`, and say so."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a frozen daemon would never act on the SIGTERM
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            raise AssertionError(
                f"the private dockerd did not stop within {timeout:g} s of SIGTERM; killed:\n"
                f"{self.tail()}"
            ) from None

    def freeze(self) -> None:
        """SIGSTOP: the daemon keeps its socket and accepts connections, and answers nothing.

        As Debian's dockerd 20.10 does when it deadlocks in its network store under many
        concurrent operations.
        """
        if self.process is None or self.process.poll() is not None:
            raise AssertionError("the private dockerd is not running")
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: the daemon answers again, the calls it held first."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def client(self, timeout: int = 30) -> docker.DockerClient:
        """A client of this daemon; the caller closes it."""
        return docker.DockerClient(base_url=self.url, version="auto", timeout=timeout)

    def network(self, client: docker.DockerClient) -> str:
        """A user-defined bridge network (in the daemon's own network namespace); its name."""
        name = f"rd-net-{secrets.token_hex(3)}"
        client.api.create_network(name, driver="bridge")
        return name

    def _ensure_netns(self) -> None:
        """Make the network namespace once; refuse to go on if it were the host's."""
        if not self.netns.exists():
            self.netns.touch()
            subprocess.run(
                ["unshare", f"--net={self.netns}", "true"],
                check=True,
                capture_output=True,
                timeout=30,
            )
        ours, host = self.netns.stat(), Path("/proc/self/ns/net").stat()
        if ours.st_dev != host.st_dev or ours.st_ino == host.st_ino:
            raise AssertionError(f"{self.netns} is not a network namespace of its own")

    def __enter__(self) -> Self:
        try:
            self.start()
            with contextlib.closing(self.client()) as client:
                ensure_test_image(client, TEST_IMAGE)
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Leave nothing behind; raise at the end if something could not be removed.

        The daemon is started again if it is down, so that its containers are removed through
        its API (a live-restored container outlives the daemon); only if that fails are the
        processes under this directory killed by their ids.
        """
        problems: list[str] = []
        if not self.running:
            try:
                self.start()
            except AssertionError as exc:
                problems.append(str(exc))
        if self.running and self.answers():
            try:
                self._remove_everything()
            except docker.errors.DockerException as exc:
                problems.append(f"could not remove the containers and networks: {exc}")
        try:
            self.stop()
        except AssertionError as exc:
            problems.append(str(exc))
        if killed := self._kill_leftovers():
            problems.append(f"killed processes left behind: {killed}")
        self._unmount()
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():
            problems.append(f"{self.root} could not be removed")
        if problems:
            raise AssertionError("private dockerd cleanup: " + "\n".join(problems))

    def _remove_everything(self) -> None:
        with contextlib.closing(self.client()) as client:
            for container in client.api.containers(all=True, quiet=True):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_container(container["Id"], force=True, v=True)
            for network in client.api.networks():
                if network["Name"] not in _DEFAULT_NETWORKS:
                    with contextlib.suppress(docker.errors.NotFound):
                        client.api.remove_network(network["Id"])

    def _kill_leftovers(self) -> list[int]:
        """SIGKILL containers' init processes and the processes naming this directory."""
        pids, cgroups = _containers_thawed(self.root / "exec")
        marker = str(self.root).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if marker in (entry / "cmdline").read_bytes():
                    pids.add(int(entry.name))
        for pid in sorted(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while cgroups and time.monotonic() < deadline:
            for cgroup in list(cgroups):
                with contextlib.suppress(OSError):  # busy until the killed have exited
                    cgroup.rmdir()
                if not cgroup.exists():
                    cgroups.discard(cgroup)
            time.sleep(0.05)
        return sorted(pids)

    def _unmount(self) -> None:
        """Detach every mount under the directory, deepest first (overlays, netns, data root)."""
        libc = ctypes.CDLL(None, use_errno=True)
        prefix = f"{self.root}/"
        mounts = []
        with Path("/proc/self/mountinfo").open() as mountinfo:
            for line in mountinfo:
                point = line.split()[4].encode().decode("unicode_escape")
                if point.startswith(prefix):
                    mounts.append(point)
        for point in sorted(set(mounts), key=len, reverse=True):
            libc.umount2(point.encode(), _MNT_DETACH)


def _containers_thawed(exec_root: Path) -> tuple[set[int], set[Path]]:
    """The init processes and cgroups of the daemon's containers, as runc recorded them, thawed.

    A paused container's processes are frozen: they cannot die of SIGKILL until thawed.
    """
    pids: set[int] = set()
    cgroups: set[Path] = set()
    for state_file in exec_root.glob("runtime-runc/*/*/state.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            state = json.loads(state_file.read_text())
            for path in (state.get("cgroup_paths") or {}).values():
                cgroups.add(Path(path))
                for name, thawed in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                    with contextlib.suppress(OSError):
                        (Path(path) / name).write_text(thawed)  # cgroup v1, v2
            pids.add(int(state["init_process_pid"]))
    return pids, cgroups
