"""Prometheus metrics of the verification pipeline, registered on the app's registry:
pending jobs, oldest pending age, failed jobs, MOF outcomes by kind (error rate), expiries."""
from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.verification.jobs import PipelineStats
from flows.einvoice.model import MofError, MofErrorKind, MofOutcome, NotFoundYet, Verified

OUTCOME_LABELS = ("verified", "not_found", "transient", "permanent")


def outcome_label(outcome: MofOutcome) -> str:
    if isinstance(outcome, Verified):
        return "verified"
    if isinstance(outcome, NotFoundYet):
        return "not_found"
    if isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT:
        return "permanent"
    return "transient"


class PipelineMetrics:
    """MOF error rate = rate(outcomes{outcome=~"transient|permanent"}) / rate(outcomes)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.pending = Gauge(
            "verification_jobs_pending", "Verification jobs queued or running", registry=registry
        )
        self.failed = Gauge(
            "verification_jobs_failed", "Verification jobs stopped by a permanent MOF error", registry=registry
        )
        self.oldest_pending_age = Gauge(
            "verification_oldest_pending_age_seconds",
            "Age of the oldest unfinished verification job",
            registry=registry,
        )
        self.outcomes = Counter(
            "verification_mof_outcomes_total", "MOF query outcomes by kind", ["outcome"], registry=registry
        )
        for label in OUTCOME_LABELS:
            self.outcomes.labels(label)  # export zeros, so the error rate is defined from the start
        self.expired = Counter(
            "verification_jobs_expired_total", "Invoices still unknown to MOF after 72 hours", registry=registry
        )
        self.lost_leases = Counter(
            "verification_lost_leases_total",
            "Results discarded because another worker had taken the job over",
            registry=registry,
        )
        self.mof_latency = Histogram(
            "verification_mof_query_seconds",
            "Duration of one MOF invoice query (header + detail)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )

    def record_outcome(self, outcome: MofOutcome) -> None:
        self.outcomes.labels(outcome_label(outcome)).inc()

    def record_stats(self, stats: PipelineStats, now: dt.datetime) -> None:
        self.pending.set(stats.pending)
        self.failed.set(stats.failed)
        self.oldest_pending_age.set(stats.oldest_pending_age(now).total_seconds())
