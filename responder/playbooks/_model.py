"""The playbook schema: what to match, and the steps to run on the target."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from responder.durations import Duration
from responder.journal import Priority, Source, Status
from responder.playbooks._conditions import Condition, TagsCondition

__all__ = ["ContainerSelector", "Match", "Playbook", "PriorityCondition", "Step"]

_Strict = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
_PRIORITY = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*([A-Za-z]+)\s*$")
Comparator = Literal[">=", "<=", "==", "!=", ">", "<"]


class PriorityCondition(BaseModel):
    """`>=Notice`, `<Error`, `==Critical`; a bare level means `==`."""

    model_config = _Strict

    op: Comparator
    level: Priority

    @classmethod
    def parse(cls, text: str) -> PriorityCondition:
        """Read the YAML form."""
        found = _PRIORITY.match(text)
        if not found:
            raise ValueError(f"not a priority condition: {text!r} (write e.g. '>=Warning')")
        return cls(op=found.group(1) or "==", level=Priority.parse(found.group(2)))  # type: ignore[arg-type]

    def test(self, priority: Priority) -> str | None:
        """None if it holds, else why not."""
        holds = {
            ">=": priority >= self.level,
            "<=": priority <= self.level,
            "==": priority == self.level,
            "!=": priority != self.level,
            ">": priority > self.level,
            "<": priority < self.level,
        }[self.op]
        return None if holds else f"priority {priority.label} is not {self}"

    def __str__(self) -> str:
        return f"{self.op}{self.level.label}"


class ContainerSelector(BaseModel):
    """Conditions on the live container, read from the engine at match time."""

    model_config = _Strict

    name: Condition | None = None
    image: Condition | None = None
    labels: dict[str, Condition] = {}
    running: bool | None = None


def _as_list(value: Any) -> Any:  # noqa: ANN401 - raw YAML
    return [value] if isinstance(value, str) else value


class Match(BaseModel):
    """Every condition given must hold; an empty `match` matches every event."""

    model_config = _Strict

    source: list[Source] | None = None
    rules: list[str] | None = Field(default=None, description="Falco rule names or globs")
    alertnames: list[str] | None = Field(default=None, description="alertname values or globs")
    priority: PriorityCondition | None = None
    status: Status | None = None
    tags: TagsCondition | None = None
    hostname: Condition | None = None
    output: Condition | None = None
    fields: dict[str, Condition] = {}
    labels: dict[str, Condition] = {}
    annotations: dict[str, Condition] = {}
    container: ContainerSelector | None = None

    _lists = field_validator("source", "rules", "alertnames", mode="before")(_as_list)

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: Any) -> Any:  # noqa: ANN401 - raw YAML
        return PriorityCondition.parse(value) if isinstance(value, str) else value


class Step(BaseModel):
    """One action on the target; its `with` parameters are checked against the action's model."""

    model_config = _Strict

    action: str = Field(min_length=1)
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    name: str | None = None
    timeout: Duration | None = Field(default=None, description="default from limits.step_timeout")
    retries: int | None = Field(
        default=None, ge=0, le=20, description="default from limits.retries"
    )
    continue_on_error: bool = False


class Playbook(BaseModel):
    """A named response: which events, and what to do about them."""

    model_config = _Strict

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=128)
    description: str = ""
    enabled: bool = True
    order: int = Field(default=100, description="lower runs first; ties go by file, then position")
    final: bool = Field(default=False, description="stop trying later playbooks after a match")
    dry_run: bool = False
    cooldown: Duration | None = Field(default=None, description="default from incidents.cooldown")
    match: Match
    steps: list[Step] = Field(min_length=1)
