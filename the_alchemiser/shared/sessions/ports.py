"""The session store's port: what the orchestrator and the aggregator need from the aggregation-session
table. `AggregationSessionRepository` (DynamoDB) is the adapter; tests/fixtures/sessions.py has an in-memory
one; tests/integration/shared/test_session_store.py holds both to this contract.

Every method that must happen once is conditional: `start_workflow` (the day's lock, or the swap of a
finished holder), `create_session`, `decide` (OPEN -> COMPLETED/FAILED, once) and `record_partial` (once per
strategy file); a lost condition is a False (or SessionExistsError), never an overwrite."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from the_alchemiser.shared.sessions.models import AggregationSession, PartialResult, SessionStatus


class SessionExistsError(RuntimeError):
    """A session with this id was already created."""


class OutcomeNotDecidedError(LookupError):
    """mark_outcome_published on a session with no decided outcome (a bug in the caller)."""


class SessionStore(Protocol):
    def start_workflow(
        self, session: AggregationSession, *, force: bool = False, replacing: str | None = None
    ) -> bool: ...

    def workflow_holder(self, stage: str, trading_date: date) -> dict[str, str] | None: ...

    def create_session(self, session: AggregationSession) -> None: ...

    def get_session(self, session_id: str) -> AggregationSession | None: ...

    def decide(
        self,
        session_id: str,
        status: SessionStatus,
        *,
        reason: str,
        outcome_event_json: str,
        decided_at: datetime,
    ) -> bool: ...

    def mark_outcome_published(self, session_id: str) -> None: ...

    def record_partial(self, session_id: str, partial: PartialResult) -> bool: ...

    def partials(self, session_id: str) -> dict[str, PartialResult]: ...
