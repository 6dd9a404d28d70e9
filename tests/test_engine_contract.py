"""One contract for both engines: `SdkEngine` on the real engine and the in-memory `FakeEngine`.

Every test here runs against each: the same containers made on both, the same questions, the
same answers. A change to the rule (`answers_to`) or to what the real engine says that the
fake does not follow fails here, so a test that uses the fake tests what production does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from responder.engine import SdkEngine, is_full_id
from responder.errors import TransientError
from responder.journal import Target
from responder.settings import DockerSettings
from responder.testing import FakeEngine, NotFakedError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from _docker import Resources

    from responder.engine import ContainerInfo, DockerEngine

ENGINES = [pytest.param("sdk", marks=pytest.mark.docker), "fake"]


@dataclass
class Side:
    """One engine under contract, and how to make and remove containers it then knows of."""

    engine: DockerEngine
    make: Callable[..., ContainerInfo]
    """`make(name=None, labels=None)`: a running container, as the engine describes it."""
    remove: Callable[[str], None]
    """Remove the container with this full id."""


@pytest.fixture(params=ENGINES)
async def side(request: pytest.FixtureRequest) -> AsyncIterator[Side]:
    """The real engine through SdkEngine (a `docker` test), or a FakeEngine."""
    if request.param == "fake":
        fake = FakeEngine()
        yield Side(fake, lambda name=None, labels=None: fake.add(name, labels=labels), fake.remove)
        await fake.close()
        return
    resources: Resources = request.getfixturevalue("resources")
    engine = SdkEngine(DockerSettings())

    def make(name: str | None = None, labels: dict[str, str] | None = None) -> ContainerInfo:
        return resources.container(name=name, labels=labels)

    yield Side(engine, make, resources.remove_container)
    await engine.close()


@pytest.fixture(params=["sdk", "fake"])
async def unanswered(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """An engine that does not answer: SdkEngine at a socket nobody listens on, or the fake's."""
    if request.param == "fake":
        fake = FakeEngine()
        fake.reachable = False
        yield fake
        return
    engine = SdkEngine(DockerSettings(url=f"unix://{tmp_path}/nobody.sock", timeout=2))
    yield engine
    await engine.close()


async def test_an_exact_name_resolves_and_nothing_near_it_does(side: Side) -> None:
    """The exact name, `/` or not, names the container as made; a prefix, longer name, other case not."""
    made = side.make(labels={"tier": "web"})
    assert await side.engine.resolve(Target(name=made.name)) == made
    assert await side.engine.resolve(Target(name=f"/{made.name}")) == made
    for near in (made.name[:-1], made.name + "0", made.name.upper()):
        assert await side.engine.resolve(Target(name=near)) is None
    assert made.labels == {"tier": "web"}
    assert made.status == "running"


@pytest.mark.parametrize("length", [12, 13, 32, 64])
async def test_an_id_prefix_of_12_or_more_resolves_to_the_full_id(side: Side, length: int) -> None:
    """12+ hex digits of the id, as an id field or a name field, name the container by its full id."""
    made = side.make()
    for target in (Target(id=made.id[:length]), Target(name=made.id[:length])):
        found = await side.engine.resolve(target)
        assert found == made
        assert found is not None
        assert is_full_id(found.id)


@pytest.mark.parametrize("length", [1, 2, 8, 11])
async def test_a_short_id_prefix_names_nothing(side: Side, length: int) -> None:
    """Fewer than 12 digits of the id name no container, as an id field or a name field."""
    made = side.make()
    assert await side.engine.resolve(Target(id=made.id[:length])) is None
    assert await side.engine.resolve(Target(name=made.id[:length])) is None


async def test_a_missing_or_removed_container_resolves_to_none(side: Side) -> None:
    """A name or id nobody has, or a container removed since, is None: not an error."""
    made = side.make()
    side.remove(made.id)
    for target in (
        Target(name=made.name),
        Target(id=made.id[:12]),
        Target(id=made.id),
        Target(name=f"nobody-{secrets.token_hex(4)}"),
        Target(id=secrets.token_hex(32)),
        Target(name="web/../db"),  # no container name: the engine is never asked
    ):
        assert await side.engine.resolve(target) is None, target


@pytest.mark.parametrize("length", [12, 64])
async def test_a_decoy_named_after_an_id_never_answers_for_it(side: Side, length: int) -> None:
    """`docker run --name <victim's id>`: the id field finds the victim; the name field, neither."""
    victim = side.make()
    decoy = side.make(name=victim.id[:length])
    assert decoy.name == victim.id[:length]
    assert await side.engine.resolve(Target(id=victim.id[:length])) == victim
    assert await side.engine.resolve(Target(name=victim.id[:length])) is None


async def test_a_short_hex_name_is_found_by_its_name_only(side: Side) -> None:
    """A container really named `8f` is what a name field `8f` names; an id field `8f` is not."""
    name = secrets.token_hex(1)
    named = side.make(name=name)
    assert await side.engine.resolve(Target(name=name)) == named
    assert await side.engine.resolve(Target(id=name)) is None


async def test_container_takes_only_a_full_id(side: Side) -> None:
    """`container(full id)` is the container; a prefix, a name or a removed id is None."""
    made = side.make()
    assert await side.engine.container(made.id) == made
    assert await side.engine.container(made.id[:12]) is None
    assert await side.engine.container(made.name) is None
    side.remove(made.id)
    assert await side.engine.container(made.id) is None


async def test_ping_and_version_answer(side: Side) -> None:
    """`ping` returns; `version` is a `/version` answer: strings for the version and the API."""
    await side.engine.ping()
    version = await side.engine.version()
    for key in ("Version", "ApiVersion", "Os", "Arch"):
        assert isinstance(version[key], str), key
        assert version[key], key


async def test_an_engine_that_does_not_answer_raises_transient(unanswered: DockerEngine) -> None:
    """ping, version, container and resolve of a reference that can name one: TransientError."""
    full_id = secrets.token_hex(32)
    with pytest.raises(TransientError, match="Docker engine unreachable"):
        await unanswered.ping()
    with pytest.raises(TransientError, match="Docker engine unreachable"):
        await unanswered.version()
    with pytest.raises(TransientError, match="Docker engine unreachable"):
        await unanswered.container(full_id)
    with pytest.raises(TransientError, match="Docker engine unreachable"):
        await unanswered.resolve(Target(id=full_id[:12]))


async def test_a_reference_that_can_name_nothing_is_none_without_the_engine(
    unanswered: DockerEngine,
) -> None:
    """A short id, a path or a name handed to `container` never reach the engine: None, no error."""
    assert await unanswered.resolve(Target(id="8f")) is None
    assert await unanswered.resolve(Target(name="web/../db")) is None
    assert await unanswered.container("web") is None


async def test_the_fake_engine_refuses_sdk_calls_naming_them() -> None:
    """`run` is where the fake stops: a permanent error naming the call, logged like the rest."""
    fake = FakeEngine()

    def pause_it(client: Any) -> None:
        client.api.pause("x")

    with pytest.raises(NotFakedError, match=r"engine\.run\(.*pause_it\)"):
        await fake.run(pause_it)
    assert fake.calls == [("run", pause_it.__qualname__)]


async def test_a_closed_engine_answers_nothing_more(side: Side) -> None:
    """After `close`, a call that would reach the engine raises RuntimeError, as the closed pool does."""
    made = side.make()
    await side.engine.close()
    with pytest.raises(RuntimeError, match="after shutdown"):
        await side.engine.container(made.id)


@pytest.mark.parametrize(
    ("name", "container_id", "why"),
    [
        ("web/../db", None, "invalid container name"),
        ("/web", None, "invalid container name"),
        ("taken", None, "Conflict"),
        (None, "abc", "not a full container id"),
    ],
)
def test_the_fake_engine_refuses_a_container_docker_would_refuse(
    name: str | None, container_id: str | None, why: str
) -> None:
    """A name Docker's grammar refuses, a name in use, an id that is no full id: ValueError."""
    fake = FakeEngine()
    fake.add("taken")
    with pytest.raises(ValueError, match=why):
        fake.add(name, container_id=container_id)
    assert [c.name for c in fake.containers.values()] == ["taken"]
