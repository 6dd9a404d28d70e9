"""Playbooks: the YAML schema, its conditions, and the loader that checks them at start-up."""

from responder.playbooks._conditions import Condition, TagsCondition
from responder.playbooks._loader import LoadedPlaybook, PlaybookSet, load_playbooks, playbook_files
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
    "load_playbooks",
    "playbook_files",
]
