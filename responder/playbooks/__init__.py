"""Playbooks: the YAML schema, its conditions, the loader that checks them, and matching."""

from responder.playbooks._conditions import Condition, TagsCondition
from responder.playbooks._context import template_context
from responder.playbooks._loader import LoadedPlaybook, PlaybookSet, load_playbooks, playbook_files
from responder.playbooks._matching import (
    Verdict,
    match_candidates,
    match_event,
    needs_container,
)
from responder.playbooks._model import ContainerSelector, Match, Playbook, PriorityCondition, Step

__all__ = [
    "Condition",
    "ContainerSelector",
    "LoadedPlaybook",
    "Match",
    "Playbook",
    "PlaybookSet",
    "PriorityCondition",
    "Step",
    "TagsCondition",
    "Verdict",
    "load_playbooks",
    "match_candidates",
    "match_event",
    "needs_container",
    "playbook_files",
    "template_context",
]
