"""Aggregation sessions (DynamoDB): shared by the orchestrator, the workers' failure reports and the aggregator."""

from the_alchemiser.shared.sessions.models import AggregationSession, PartialResult, SessionDeadline, SessionStatus
from the_alchemiser.shared.sessions.repository import (
    AggregationSessionRepository,
    SessionExistsError,
    create_sessions_table,
    session_key,
    workflow_lock_key,
)

__all__ = [
    "AggregationSession",
    "AggregationSessionRepository",
    "PartialResult",
    "SessionDeadline",
    "SessionExistsError",
    "SessionStatus",
    "create_sessions_table",
    "session_key",
    "workflow_lock_key",
]
