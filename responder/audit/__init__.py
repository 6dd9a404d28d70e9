"""The audit trail: every decision is one line of an append-only, hash-chained JSONL trail."""

from responder.audit._fields import AuditValue
from responder.audit._log import AUDIT_FILE, Anchor, AuditLog
from responder.audit._prune import Prunable, prunable_segments
from responder.audit._report import ChainBreak, ChainReport
from responder.audit._segments import sealed_bytes
from responder.audit._settings import AuditSettings
from responder.audit._verify import verify_chain

__all__ = [
    "AUDIT_FILE",
    "Anchor",
    "AuditLog",
    "AuditSettings",
    "AuditValue",
    "ChainBreak",
    "ChainReport",
    "Prunable",
    "prunable_segments",
    "sealed_bytes",
    "verify_chain",
]
