"""The image, built on this machine without any registry and run the way compose runs it.

The base is `deploy/local-base-image.sh`'s stand-in for python:3.11-slim-bookworm: Debian's own
python3, bootstrapped from Debian's package mirror and imported, kept as a cache. The build
stage's pip may not reach PyPI by itself (here the egress re-signs TLS with a CA that only the
host trusts; elsewhere a mirror is the only way out), so the host's pip, with the host's own
configuration, downloads the wheels the build needs for the base image's Python and platform,
and the build installs them from a PEP 503 index on 127.0.0.1 (`--network host
--build-arg PIP_INDEX_URL=...`). Nothing host-specific goes into the Dockerfile or the image.

The container then runs as compose runs it: read-only, UID 1001, no capabilities,
no-new-privileges, a tmpfs /tmp, a named volume for /var/lib/responder, the token as a
bind-mounted secret file, a published port, and no Docker socket.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
import pytest
from _peers import free_port, peers_required, require_binary
from conftest import payload_path

if TYPE_CHECKING:
    from collections.abc import Iterator

    from docker.models.containers import Container

ROOT = Path(__file__).resolve().parents[1]
BASE_SCRIPT = ROOT / "deploy" / "local-base-image.sh"
BASE_IMAGE = "responder-local/python:3.11-slim-bookworm"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PORT = 8470
SECRET = "/run/secrets/responder_token"
LABELS = {"io.responder.test": "test_image"}
# Bounds, not expectations: a cold base image takes about a minute, the build a few seconds.
BASE_TIMEOUT = 1200.0
BUILD_TIMEOUT = 900.0
START_WAIT = 60.0
HEALTH_WAIT = 120.0
DOCKER_SOCKET = "/var/run/docker.sock"
# The first test to ask for the image waits for the session fixture that builds it, and
# pytest-timeout counts that wait: its ceiling is the sum of the fixture's own bounds (the base,
# the wheel download, two builds), then the container's start and health waits.
pytestmark = [
    pytest.mark.docker,
    pytest.mark.timeout(BASE_TIMEOUT + 3 * BUILD_TIMEOUT + START_WAIT + HEALTH_WAIT),
]
# The image's own check (no test given), probed every second instead of every 30, with a
# start period of one second instead of 20.
FAST_HEALTHCHECK = {"interval": 1_000_000_000, "start_period": 1_000_000_000}


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _run(command: list[str], log: Path, timeout: float, env: dict[str, str] | None = None) -> None:
    """Run a command with its output in `log`; fail the test with the log's end if it fails."""
    with log.open("wb") as out:
        try:
            done = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{' '.join(command)} ran past {timeout:g} s; its output:\n{_tail(log)}")
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {done.returncode}; its output ends with:\n{_tail(log)}"
        )


def _ensure_base_image(client: docker.DockerClient, logs: Path) -> None:
    """The script does nothing when the base exists; building it needs root (debootstrap)."""
    if os.geteuid() != 0:
        try:
            client.images.get(BASE_IMAGE)
        except docker.errors.ImageNotFound:
            message = f"{BASE_IMAGE} is missing and {BASE_SCRIPT} needs root to build it"
            if peers_required():
                pytest.fail(f"required here (CI is set): {message}")
            pytest.skip(message)
    _run(["bash", str(BASE_SCRIPT), BASE_IMAGE], logs / "base-image.log", BASE_TIMEOUT)


def _target(client: docker.DockerClient) -> tuple[str, list[str]]:
    """The base image's Python version and the wheel platforms its glibc and machine accept."""
    probe = (
        "import json, platform, sys; print(json.dumps({'python': '%d.%d' % sys.version_info[:2],"
        " 'libc': platform.libc_ver(), 'machine': platform.machine()}))"
    )
    output = client.containers.run(
        BASE_IMAGE, ["python3", "-c", probe], remove=True, network_mode="none", labels=LABELS
    )
    facts = json.loads(output)
    family, version = facts["libc"]
    assert family == "glibc", facts
    machine = facts["machine"]
    major, minor = (int(part) for part in version.split(".")[:2])
    platforms = [f"manylinux_{major}_{each}_{machine}" for each in range(minor, 4, -1)]
    legacy = {5: "manylinux1", 12: "manylinux2010", 17: "manylinux2014"}
    platforms += [f"{name}_{machine}" for since, name in legacy.items() if since <= minor]
    return facts["python"], platforms


def _wheelhouse(directory: Path, python: str, platforms: list[str]) -> Path:
    """The build's wheels (build-system and runtime requirements), as a PEP 503 index in simple/."""
    requirements = [*PYPROJECT["build-system"]["requires"], *PYPROJECT["project"]["dependencies"]]
    root = directory / "wheelhouse"
    download = root / "download"
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check"]
    command += ["--dest", str(download), "--only-binary=:all:"]
    command += ["--implementation", "cp", "--python-version", python]
    for platform_tag in platforms:
        command += ["--platform", platform_tag]
    _run([*command, *requirements], directory / "pip-download.log", BUILD_TIMEOUT)
    index = root / "simple"
    for wheel in sorted(download.glob("*.whl")):
        project = re.sub(r"[-_.]+", "-", wheel.name.split("-", 1)[0]).lower()
        (index / project).mkdir(parents=True, exist_ok=True)
        wheel.rename(index / project / wheel.name)
    return root


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Say nothing per request."""


@contextmanager
def _serve(directory: Path) -> Iterator[int]:
    """Serve `directory` on 127.0.0.1; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=directory))
    thread = threading.Thread(target=server.serve_forever, name="wheelhouse", daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


_STEP = re.compile(r"^ ---> ([0-9a-f]{12})$", re.MULTILINE)  # the legacy builder's step images


def _remove_leftovers(client: docker.DockerClient, logs: list[Path]) -> None:
    """The untagged step images a failed build leaves; a successful one's went with its tag."""
    steps = [
        step
        for log in logs
        if log.exists()
        for step in _STEP.findall(log.read_text(encoding="utf-8", errors="replace"))
    ]
    for step in reversed(steps):
        # Never an image that is tagged or that another image is built on (a conflict).
        with suppress(docker.errors.APIError):
            if not client.images.get(step).tags:
                client.images.remove(step)


@pytest.fixture(scope="session")
def responder_image(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The image, built once per session from the local base; removed afterwards (not the base)."""
    require_binary("docker", package="docker.io")
    work = tmp_path_factory.mktemp("image")
    _ensure_base_image(docker_client, work)
    python, platforms = _target(docker_client)
    suffix = secrets.token_hex(4)
    tag = f"responder-test/responder:{suffix}"
    build_tag = f"{tag}-build"
    # The legacy builder: this machine's CLI has no buildx, and under BuildKit the Dockerfile's
    # `# syntax=` line would fetch its frontend from Docker Hub.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    try:
        with _serve(_wheelhouse(work, python, platforms)) as port:
            build = ["docker", "build", "--force-rm", "--network", "host"]
            build += ["--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}"]
            build += ["--build-arg", f"PIP_INDEX_URL=http://127.0.0.1:{port}/simple/"]
            build += ["--label", f"io.responder.test={LABELS['io.responder.test']}"]
            # The build stage under its own tag first, so that it is not left behind untagged;
            # the full build then takes it from the cache.
            _run(
                [*build, "--target", "build", "-t", build_tag, str(ROOT)],
                work / "build.log",
                BUILD_TIMEOUT,
                env,
            )
            _run([*build, "-t", tag, str(ROOT)], work / "runtime.log", BUILD_TIMEOUT, env)
        yield tag
    finally:
        for made in (tag, build_tag):
            with suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(made, force=True)
        _remove_leftovers(docker_client, [work / "build.log", work / "runtime.log"])


@dataclass(frozen=True)
class Running:
    """The running container, its URL from the host and the token it was given."""

    container: Container
    url: str
    token: str

    def exec(self, *command: str) -> tuple[int, str]:
        """Run a command in the container as its user; the exit code and the output."""
        code, output = self.container.exec_run(list(command))
        assert code is not None
        assert isinstance(output, bytes)
        return code, output.decode("utf-8", errors="replace")


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def _request(
    url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """GET (or POST `body`); the status and the decoded JSON answer, errors included."""
    request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310 - ours
    try:
        with _DIRECT.open(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def _wait_until_serving(container: Container, url: str) -> None:
    deadline = time.monotonic() + START_WAIT
    while True:
        container.reload()
        if container.status != "running":
            logs = container.logs().decode("utf-8", errors="replace")
            pytest.fail(f"the container stopped ({container.status}); its log:\n{logs}")
        try:
            if _request(f"{url}/healthz")[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            logs = container.logs().decode("utf-8", errors="replace")
            pytest.fail(f"/healthz did not answer within {START_WAIT:g} s; the log:\n{logs}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def running(
    docker_client: docker.DockerClient,
    responder_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    """The image run as compose runs it (compose.yml's responder service), minus the socket proxy."""
    suffix = secrets.token_hex(4)
    token = secrets.token_urlsafe(24)
    # Compose bind-mounts a secret file as it is on the host, so UID 1001 must be able to read it.
    secret = tmp_path_factory.mktemp("secrets") / "responder_token"
    secret.write_text(f"{token}\n", encoding="utf-8")
    secret.chmod(0o444)
    volume = docker_client.volumes.create(f"responder-test-data-{suffix}", labels=LABELS)
    host_port = free_port()  # published on loopback only
    url = f"http://127.0.0.1:{host_port}"
    container: Container | None = None
    try:
        container = docker_client.containers.run(
            responder_image,
            name=f"responder-test-image-{suffix}",
            detach=True,
            read_only=True,
            user="1001:1001",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            tmpfs={"/tmp": "size=16m,mode=1777"},  # noqa: S108 - the container's own tmpfs
            volumes={
                volume.name: {"bind": "/var/lib/responder", "mode": "rw"},
                str(secret): {"bind": SECRET, "mode": "ro"},
            },
            environment={"RESPONDER_TOKEN_FILE": SECRET},
            ports={f"{PORT}/tcp": ("127.0.0.1", host_port)},
            pids_limit=256,
            mem_limit="256m",
            nano_cpus=1_000_000_000,
            healthcheck=FAST_HEALTHCHECK,
            labels=LABELS,
        )
        _wait_until_serving(container, url)
        yield Running(container, url, token)
    finally:
        if container is not None:
            container.remove(force=True, v=True)
        volume.remove(force=True)


def test_base_image_script_does_nothing_when_the_base_exists(responder_image: str) -> None:
    """The script is a cache: a second run finds the image and stops."""
    del responder_image  # built (and the base with it) by the fixture
    done = subprocess.run(
        ["bash", str(BASE_SCRIPT), BASE_IMAGE], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "nothing to do" in done.stderr


def test_healthz_answers_on_the_published_port(running: Running) -> None:
    """From the host, through the published port."""
    assert _request(f"{running.url}/healthz") == (200, {"status": "ok"})


def test_runs_as_uid_1001_without_capabilities(running: Running) -> None:
    """The service (PID 1) and anything exec'd run as 1001, with no capability to gain."""
    assert running.exec("id", "-u") == (0, "1001\n")
    code, cmdline = running.exec("cat", "/proc/1/cmdline")
    assert code == 0
    assert "responder" in cmdline
    code, text = running.exec("cat", "/proc/1/status")
    assert code == 0
    status = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    assert status["Uid"].split() == ["1001"] * 4
    assert status["Gid"].split() == ["1001"] * 4
    assert int(status["CapEff"], 16) == 0
    assert int(status["CapBnd"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"


def test_root_filesystem_is_read_only(running: Running) -> None:
    """Only the data volume and /tmp take writes."""
    code, output = running.exec("touch", "/x")
    assert code != 0
    assert "Read-only file system" in output
    assert running.exec("touch", "/opt/responder/x")[0] != 0
    for path in ("/var/lib/responder/.write-probe", "/tmp/.write-probe"):  # noqa: S108
        assert running.exec("touch", path) == (0, "")
        assert running.exec("rm", path) == (0, "")
    assert running.container.attrs["HostConfig"]["ReadonlyRootfs"] is True


def _health(container: Container, until: str) -> dict[str, Any]:
    """The container's health once its status is `until`; fail if it is not within HEALTH_WAIT.

    A probe before the server listens fails, so `unhealthy` may come before `healthy`.
    """
    deadline = time.monotonic() + HEALTH_WAIT
    while True:
        container.reload()
        health: dict[str, Any] = container.attrs["State"]["Health"]
        if health["Status"] == until:
            return health
        if time.monotonic() > deadline:
            logs = container.logs().decode("utf-8", errors="replace")[-4000:]
            pytest.fail(
                f"not {until} within {HEALTH_WAIT:g} s ({container.status}): {health}\n{logs}"
            )
        time.sleep(0.5)


def test_docker_healthcheck_is_unhealthy_while_not_ready(
    running: Running, docker_client: docker.DockerClient, responder_image: str
) -> None:
    """The image's HEALTHCHECK asks readiness: with no Docker engine it turns unhealthy (503)."""
    image_check = docker_client.images.get(responder_image).attrs["Config"]["Healthcheck"]
    assert running.container.attrs["Config"]["Healthcheck"]["Test"] == image_check["Test"]
    assert _request(f"{running.url}/healthz")[0] == 200  # alive all the same
    health = _health(running.container, "unhealthy")
    assert health["Log"][-1]["ExitCode"] != 0, health
    assert "503" in health["Log"][-1]["Output"], health


def test_docker_healthcheck_turns_healthy_once_ready(
    docker_client: docker.DockerClient, responder_image: str
) -> None:
    """Given the engine (the socket, in its group), the image's HEALTHCHECK turns healthy."""
    container = docker_client.containers.run(
        responder_image,
        name=f"responder-test-ready-{secrets.token_hex(4)}",
        detach=True,
        read_only=True,
        user="1001:1001",
        group_add=[str(Path(DOCKER_SOCKET).stat().st_gid)],
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        tmpfs={
            "/tmp": "size=16m,mode=1777",  # noqa: S108 - the container's own tmpfs
            "/var/lib/responder": "size=64m,uid=1001,gid=1001,mode=0700",  # its data, not kept
        },
        volumes={DOCKER_SOCKET: {"bind": DOCKER_SOCKET, "mode": "ro"}},
        # Loopback only, where the check asks: no credential needed, no network at all.
        environment={"RESPONDER_HOST": "127.0.0.1"},
        network_mode="none",
        healthcheck=FAST_HEALTHCHECK,
        labels=LABELS,
    )
    try:
        health = _health(container, "healthy")
    finally:
        container.remove(force=True, v=True)
    assert health["Log"][-1]["ExitCode"] == 0, health


def test_falco_event_is_accepted_with_the_token_only(running: Running) -> None:
    """202 with the token read from the secret file; 401 without it or with another."""
    url = f"{running.url}/v1/events/falco"
    body = payload_path("falco", "http_output_ancestors.json").read_bytes()
    headers = {"Content-Type": "application/json"}
    status, answer = _request(url, body=body, headers=headers)
    assert status == 401, answer
    wrong = headers | {"Authorization": "Bearer not-the-token"}
    assert _request(url, body=body, headers=wrong)[0] == 401
    right = headers | {"Authorization": f"Bearer {running.token}"}
    status, answer = _request(url, body=body, headers=right)
    assert status == 202, answer
    assert answer["status"] == "accepted"


def test_readyz_says_docker_is_unreachable_and_the_journal_fine(running: Running) -> None:
    """No socket was given: not ready because of Docker alone, and saying so."""
    assert not any(
        "docker.sock" in mount["Destination"] for mount in running.container.attrs["Mounts"]
    )
    status, answer = _request(f"{running.url}/readyz")
    assert status == 503, answer
    assert answer["failing"] == ["docker"]
    checks = answer["checks"]
    assert checks["journal"] == {"ok": True, "path": "/var/lib/responder/journal.sqlite3"}
    assert checks["docker"]["ok"] is False
    assert "unreachable" in checks["docker"]["error"]
    assert checks["playbooks"]["ok"] is True
    assert checks["playbooks"]["playbooks"] > 0


def test_image_carries_oci_labels(docker_client: docker.DockerClient, responder_image: str) -> None:
    """org.opencontainers.image.* labels, with the project's version."""
    labels = docker_client.images.get(responder_image).labels
    assert labels["org.opencontainers.image.title"] == "responder"
    assert labels["org.opencontainers.image.version"] == PYPROJECT["project"]["version"]
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]["text"]
    for key in ("description", "source"):
        assert labels[f"org.opencontainers.image.{key}"]


def test_build_arguments_stay_out_of_the_runtime_image(
    docker_client: docker.DockerClient, responder_image: str
) -> None:
    """The build stage's pip index is not in the image's environment nor in its history."""
    image = docker_client.images.get(responder_image)
    assert not [entry for entry in image.attrs["Config"]["Env"] if entry.startswith("PIP_INDEX")]
    history = json.dumps(image.history())
    assert "PIP_INDEX_URL" not in history
    assert "/simple/" not in history
