"""What an aggregation session is: the strategies expected, their allocations, the deadline, the outcome."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import AwareDatetime, Field

from the_alchemiser.shared.schemas.base import WireModel
from the_alchemiser.shared.schemas.portfolio import StrategySignal
from the_alchemiser.shared.types import Money


class SessionStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"  # SignalGenerated decided
    FAILED = "FAILED"  # WorkflowFailed decided


class AggregationSession(WireModel):
    """One workflow's fan-in state (the META item). The outcome event is stored with the decision so a
    crash between deciding and publishing can be repaired by republishing the very same event."""

    session_id: str
    correlation_id: str
    causation_id: str = Field(description="the WorkflowStarted event id: the parent of everything after")
    stage: str
    trading_date: date
    as_of: date
    allocations: dict[str, Money] = Field(description="strategy file -> allocation, in invocation order")
    deadline: AwareDatetime
    created_at: AwareDatetime
    status: SessionStatus = SessionStatus.OPEN
    decided_at: AwareDatetime | None = None
    outcome_reason: str | None = None
    outcome_event_json: str | None = None
    outcome_published: bool = False

    @property
    def strategies(self) -> list[str]:
        return list(self.allocations)


class PartialResult(WireModel):
    """One strategy's answer as stored (once) in the session."""

    dsl_file: str
    success: bool
    signal: StrategySignal | None = None
    error_message: str | None = None
    event_id: str = Field(description="the PartialSignalGenerated event id")
    received_at: AwareDatetime


class SessionDeadline(WireModel):
    """Body of the delayed SQS message that ends a session which is still open at its deadline."""

    session_id: str
    correlation_id: str
    causation_id: str
    deadline: AwareDatetime
