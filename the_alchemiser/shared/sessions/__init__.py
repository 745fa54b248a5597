"""Aggregation sessions (DynamoDB): opened by the orchestrator, decided by the aggregator (decisions.md)."""

from the_alchemiser.shared.sessions.models import AggregationSession, PartialResult, SessionDeadline, SessionStatus
from the_alchemiser.shared.sessions.ports import OutcomeNotDecidedError, SessionExistsError, SessionStore
from the_alchemiser.shared.sessions.repository import (
    AggregationSessionRepository,
    create_sessions_table,
    session_key,
    workflow_lock_key,
)

__all__ = [
    "AggregationSession",
    "AggregationSessionRepository",
    "OutcomeNotDecidedError",
    "PartialResult",
    "SessionDeadline",
    "SessionExistsError",
    "SessionStatus",
    "SessionStore",
    "create_sessions_table",
    "session_key",
    "workflow_lock_key",
]
