"""Prometheus metrics, one registry per app so that tests and several apps never share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    """Every metric the responder exports, registered on its own registry."""

    # Long on purpose: one declaration per exported metric, each with its help text; a
    # list of metrics is read best as the list it is.
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._received: dict[tuple[str, str], Counter] = {}
        self.events_received = Counter(
            "responder_events_received",
            "Events received at intake, by source and outcome "
            "(accepted, duplicate, invalid, unauthorized, too_large, timeout, journal_unavailable).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.journal_commit_seconds = Histogram(
            "responder_journal_commit_seconds",
            "Time to write and fsync one group commit of the journal.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.journal_batch_size = Histogram(
            "responder_journal_batch_size",
            "Requests written together in one journal commit.",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.journal_errors = Counter(
            "responder_journal_errors",
            "Journal commits that failed; their requests were answered 503.",
            registry=self.registry,
        )

        self.notifications = Counter(
            "responder_notifications",
            "Notification delivery attempts by channel and outcome (sent, retry, failed).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "responder_outbox_pending",
            "Notifications queued and not yet delivered, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.outbox_failing = Gauge(
            "responder_outbox_failing",
            "Queued notifications whose last delivery attempt failed, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.events_quarantined = Counter(
            "responder_events_quarantined",
            "Journaled events set aside because they could not be read back or dispatched.",
            registry=self.registry,
        )
        self.events_deferred = Gauge(
            "responder_events_deferred",
            "Journaled events waiting for the Docker engine to answer their container lookup.",
            registry=self.registry,
        )
        self.audit_errors = Counter(
            "responder_audit_errors",
            "Audit lines that could not be written.",
            registry=self.registry,
        )

        self.pruned = Counter(
            "responder_pruned",
            "Rows or directories removed by retention, by store (journal, evidence, outbox).",
            ["store"],
            registry=self.registry,
        )
        self.retention_over_budget = Gauge(
            "responder_retention_over_budget_bytes",
            "Bytes a store stays over its retention budget because what is left must stay.",
            ["store"],
            registry=self.registry,
        )
        self.audit_head_seq = Gauge(
            "responder_audit_head_seq",
            "Sequence number of the last audit line written: the length of the chain.",
            registry=self.registry,
        )
        self.audit_head_hash = Info(
            "responder_audit_head",
            "The hash of the last audit line: note it elsewhere, and `responder audit verify "
            "--expect-head` proves the chain still holds it.",
            registry=self.registry,
        )

    def audit_head(self, seq: int, head: str) -> None:
        """The audit chain's new head (called from the audit writer's thread)."""
        self.audit_head_seq.set(seq)
        self.audit_head_hash.info({"hash": head, "seq": str(seq)})

    def received(self, source: str, outcome: str, count: int = 1) -> None:
        """Count intake outcomes; label children are cached, this is on every request."""
        child = self._received.get((source, outcome))
        if child is None:
            child = self._received[(source, outcome)] = self.events_received.labels(source, outcome)
        child.inc(count)

    def render(self) -> bytes:
        """The text exposition format, for `GET /metrics`."""
        return generate_latest(self.registry)
