"""What every action is: a registered name, a typed parameter model, and what undoes it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, JsonValue

from responder.actions._results import ReleaseOutcome

if TYPE_CHECKING:
    from responder.actions._results import ActionContext, StepOutcome
    from responder.engine import ContainerInfo

__all__ = ["Action", "ActionParams"]


class ActionParams(BaseModel):
    """Base of every action's parameters: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Action(ABC):
    """An action plugin; instances are listed in the registry built at start-up."""

    name: ClassVar[str]
    """Registered name, `area:verb` as in `docker:pause`."""
    summary: ClassVar[str]
    """One line: what it does."""
    undo: ClassVar[str]
    """What `release` does to undo it, or why nothing needs undoing."""
    changes_container: ClassVar[bool]
    """It changes the container: dry-run skips the change, protection and limits apply."""
    needs_container: ClassVar[bool] = True
    """It acts on a container: without one (host events, resolved alerts) it does not run."""
    params: ClassVar[type[ActionParams]]

    @abstractmethod
    def describe(self, params: Any, target: str | None) -> str:  # noqa: ANN401 - each action's own model
        """What the step does (or would do) to `target`, in one line for a person."""

    @abstractmethod
    async def run(
        self,
        ctx: ActionContext,
        params: Any,  # noqa: ANN401 - each action's own model
        container: ContainerInfo | None,
    ) -> StepOutcome:
        """Do it (or, with `ctx.dry_run`, say what it would do); idempotent: "already" is success.

        Docker calls go through `ctx.engine.run` (the one blocking-I/O seam); they raise
        TransientError (retried by the worker) or PermanentError (not retried).
        """

    async def release(
        self, ctx: ActionContext, undo: dict[str, JsonValue], container_ref: str
    ) -> ReleaseOutcome:
        """Undo what `run` recorded in `undo`; the default has nothing to undo."""
        del ctx, undo, container_ref
        return ReleaseOutcome(status="nothing", detail=f"{self.name}: {self.undo}")

    def parameters(self) -> list[dict[str, Any]]:
        """The parameter model as rows: name, type, default, description (for `responder actions`)."""
        rows = []
        schema = self.params.model_json_schema()
        properties = schema.get("properties", {})
        for name, field in self.params.model_fields.items():
            prop = properties.get(name, {})
            rows.append(
                {
                    "name": name,
                    "type": _type_text(prop),
                    "default": None if field.is_required() else prop.get("default"),
                    "required": field.is_required(),
                    "description": field.description or "",
                }
            )
        return rows


def _type_text(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " | ".join(_type_text(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    if prop.get("type") == "array":
        return f"list[{_type_text(prop.get('items', {}))}]"
    return str(prop.get("type", "any"))
