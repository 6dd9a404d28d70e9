"""The audit trail: every decision is one line of an append-only, hash-chained JSONL file."""

from responder.audit._chain import ChainBreak, ChainReport, verify_chain
from responder.audit._fields import AuditValue
from responder.audit._log import AUDIT_FILE, Anchor, AuditLog

__all__ = [
    "AUDIT_FILE",
    "Anchor",
    "AuditLog",
    "AuditValue",
    "ChainBreak",
    "ChainReport",
    "verify_chain",
]
