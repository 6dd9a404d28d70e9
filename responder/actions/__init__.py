"""Actions: small plugins with a name, a typed parameter model, and what undoes them."""

from responder.actions._base import Action, ActionParams
from responder.actions._registry import ActionRegistry, default_actions
from responder.actions._results import (
    ActionContext,
    Artifact,
    NotifySink,
    ReleaseOutcome,
    StepOutcome,
    StepStatus,
)

__all__ = [
    "Action",
    "ActionContext",
    "ActionParams",
    "ActionRegistry",
    "Artifact",
    "NotifySink",
    "ReleaseOutcome",
    "StepOutcome",
    "StepStatus",
    "default_actions",
]
