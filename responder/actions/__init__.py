"""Actions: small plugins with a name, a typed parameter model, and what undoes them."""

from responder.actions._base import Action, ActionParams
from responder.actions._registry import ActionRegistry, default_actions

__all__ = ["Action", "ActionParams", "ActionRegistry", "default_actions"]
