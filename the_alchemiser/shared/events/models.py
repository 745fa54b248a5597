"""The workflow's events. Every event carries the base fields; payloads follow the seed's table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, TypeAdapter

from the_alchemiser.shared.schemas import (
    ConsolidatedPortfolio,
    ExecutionResult,
    RebalancePlan,
    StrategySignal,
)
from the_alchemiser.shared.schemas.base import WireModel
from the_alchemiser.shared.stamps import stamp_now
from the_alchemiser.shared.types import Money

SCHEMA_VERSION = "1.0"
EVENT_SOURCE_PREFIX = "alchemiser"


@dataclass(frozen=True)
class EventOrigin:
    """Who publishes: the module (EventBridge source `alchemiser.<module>`) and component that every event a
    service makes names, given once per service instead of at each event."""

    module: str
    component: str

    def of(self, correlation_id: str, causation_id: str) -> dict[str, str]:
        """The base fields of an event from this origin in the workflow `correlation_id`, caused by `causation_id`."""
        return {
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "source_module": self.module,
            "source_component": self.component,
        }


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    """An event's timestamp: the stamping clock (the system's, or the local stack's simulated day)."""
    return stamp_now()


class BaseEvent(WireModel):
    """Fields every event has. `event_type` is the discriminator and the EventBridge detail-type."""

    event_type: str
    event_id: str = Field(default_factory=new_event_id)
    correlation_id: str = Field(min_length=1, description="the whole workflow")
    causation_id: str = Field(min_length=1, description="the event (or trigger) that caused this one")
    timestamp: AwareDatetime = Field(default_factory=utc_now)
    source_module: str
    source_component: str
    schema_version: str = SCHEMA_VERSION
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def source(self) -> str:
        """EventBridge `source`: alchemiser.<module>."""
        return f"{EVENT_SOURCE_PREFIX}.{self.source_module}"

    def caused(self, origin: EventOrigin | None = None) -> dict[str, str]:
        """Base fields for an event this one causes: same workflow, this event as parent (and, given the
        publisher's origin, its source fields too)."""
        if origin is None:
            return {"correlation_id": self.correlation_id, "causation_id": self.event_id}
        return origin.of(self.correlation_id, self.event_id)


class WorkflowStarted(BaseEvent):
    event_type: Literal["WorkflowStarted"] = "WorkflowStarted"
    workflow_type: str = "daily_rebalance"
    trading_date: date
    stage: str
    session_id: str
    strategies: dict[str, Money] = Field(description="strategy file -> allocation")
    deadline: AwareDatetime
    forced: bool = False


class PartialSignalGenerated(BaseEvent):
    """One worker's result. A failed evaluation is reported too, so the session never waits on it."""

    event_type: Literal["PartialSignalGenerated"] = "PartialSignalGenerated"
    session_id: str
    dsl_file: str
    strategy_number: int = Field(ge=1)
    total_strategies: int = Field(ge=1)
    success: bool
    signals_data: StrategySignal | None = None
    error_message: str | None = None


class SignalGenerated(BaseEvent):
    event_type: Literal["SignalGenerated"] = "SignalGenerated"
    session_id: str
    signals_data: list[StrategySignal]
    consolidated_portfolio: ConsolidatedPortfolio
    signal_count: int = Field(ge=0)


class RebalancePlanned(BaseEvent):
    event_type: Literal["RebalancePlanned"] = "RebalancePlanned"
    rebalance_plan: RebalancePlan
    allocation_comparison: dict[str, dict[str, Money]] = Field(
        description="symbol -> {target_weight, current_weight, target_value, current_value}"
    )
    trades_required: bool
    consolidated_portfolio: ConsolidatedPortfolio


class TradeExecuted(BaseEvent):
    event_type: Literal["TradeExecuted"] = "TradeExecuted"
    execution_data: ExecutionResult
    orders_placed: int = Field(ge=0)
    orders_succeeded: int = Field(ge=0)
    consolidated_portfolio: ConsolidatedPortfolio | None = None


class WorkflowCompleted(BaseEvent):
    event_type: Literal["WorkflowCompleted"] = "WorkflowCompleted"
    workflow_type: str = "daily_rebalance"
    success: bool
    summary: dict[str, Any]
    trading_date: date | None = None
    execution_data: ExecutionResult | None = None
    consolidated_portfolio: ConsolidatedPortfolio | None = None


class WorkflowFailed(BaseEvent):
    event_type: Literal["WorkflowFailed"] = "WorkflowFailed"
    workflow_type: str = "daily_rebalance"
    failure_reason: str
    failure_step: str = Field(description="orchestrator, strategy, aggregation, portfolio, execution, notifications")
    error_details: dict[str, Any] = Field(
        default_factory=dict, description="e.g. missing_strategies, failed_strategies, exception type; never secrets"
    )
    trading_date: date | None = None
    execution_data: ExecutionResult | None = None
    consolidated_portfolio: ConsolidatedPortfolio | None = None


AnyEvent = Annotated[
    WorkflowStarted
    | PartialSignalGenerated
    | SignalGenerated
    | RebalancePlanned
    | TradeExecuted
    | WorkflowCompleted
    | WorkflowFailed,
    Field(discriminator="event_type"),
]

EVENT_TYPES: dict[str, type[BaseEvent]] = {
    cls.model_fields["event_type"].default: cls
    for cls in (
        WorkflowStarted,
        PartialSignalGenerated,
        SignalGenerated,
        RebalancePlanned,
        TradeExecuted,
        WorkflowCompleted,
        WorkflowFailed,
    )
}

_ANY_EVENT: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


class EventParseError(ValueError):
    """An event that is not one of ours, or not well-formed: it goes to the DLQ, never to an order."""


def parse_event(data: dict[str, Any] | str | bytes) -> BaseEvent:
    """Parse a wire event (dict or JSON) into its model; unknown or missing fields raise."""
    from pydantic import ValidationError

    try:
        if isinstance(data, dict):
            return _ANY_EVENT.validate_python(data)
        return _ANY_EVENT.validate_json(data)
    except ValidationError as exc:
        raise EventParseError(str(exc)) from exc
