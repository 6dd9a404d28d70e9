"""Retention: what each store keeps, pruned in small batches off the event loop, and `gc`."""

from responder.retention._audit import audit_segments
from responder.retention._evidence import CLOSED_STATES, prune_evidence
from responder.retention._journal import journal_over_budget, prune_journal
from responder.retention._outbox import prune_outbox
from responder.retention._pass import StorePruner, prune_all, publish
from responder.retention._report import Removal, StoreReport
from responder.retention._service import Pruner
from responder.retention._settings import (
    EvidenceRetention,
    JournalRetention,
    OutboxRetention,
    RetentionSettings,
)

__all__ = [
    "CLOSED_STATES",
    "EvidenceRetention",
    "JournalRetention",
    "OutboxRetention",
    "Pruner",
    "Removal",
    "RetentionSettings",
    "StorePruner",
    "StoreReport",
    "audit_segments",
    "journal_over_budget",
    "prune_all",
    "prune_evidence",
    "prune_journal",
    "prune_outbox",
    "publish",
]
