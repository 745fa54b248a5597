"""Portfolio service: SignalGenerated in, one RebalancePlan per correlation id out as RebalancePlanned.

Two layers:
- PortfolioService.plan_and_publish: one attempt. Reads the account, plans, publishes RebalancePlanned;
  if reading or planning fails (broker error, no usable price, bad input) it publishes WorkflowFailed
  (failure_step "portfolio") instead, so the workflow ends with an operator email rather than a retry
  loop. Only a failure to publish raises.
- OncePerCorrelation.handle: the shared exactly-once helper (shared/once.py, Powertools idempotency)
  around that whole attempt, keyed by the correlation id. The publish is inside the idempotent unit: a
  completed attempt (plan or failure published) is stored and every replay returns it without
  publishing; an attempt that raised (the publish failed) leaves no record, so the retry plans and
  publishes. Published events get ids derived from the
  correlation id, so even the one unavoidable duplicate (published, then the record write failed)
  carries the same event id and plan id for consumers to recognise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from the_alchemiser.portfolio_v2.core.planner import (
    MissingPriceError,
    PlannerConfig,
    PlanningError,
    RebalancePlanner,
    allocation_comparison,
)
from the_alchemiser.portfolio_v2.core.state_reader import PortfolioStateReader
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.broker.errors import BrokerError
from the_alchemiser.shared.calendar import NEW_YORK, Clock, SystemClock
from the_alchemiser.shared.events import (
    EventOrigin,
    EventParseError,
    EventPublisher,
    PayloadStore,
    RebalancePlanned,
    SignalGenerated,
    WorkflowFailed,
    decode_event,
)
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.once import PowertoolsOnce

ORIGIN = EventOrigin("portfolio_v2", "RebalancePlanner")
FAILURE_STEP = "portfolio"
# the record ids of the plans already made stay valid across deploys: never change this prefix
IDEMPOTENCY_KEY_PREFIX = "portfolio_v2.plan"
# longer than any redelivery (EventBridge retries for up to 24 h): one plan per workflow, ever
IDEMPOTENCY_LIFETIME = timedelta(days=7)
_EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/the-alchemiser/portfolio-events")

log = get_logger(__name__)


class PortfolioOutcome(BaseModel):
    """What one SignalGenerated came to. Stored by the idempotency layer and returned on replays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correlation_id: str
    status: Literal["planned", "failed"]
    published_event_type: str
    published_event_id: str
    plan_id: str | None = None
    trades_required: bool = False
    trade_count: int = 0
    failure_reason: str | None = None
    replayed: bool = False  # True when this is the stored result of an earlier delivery


def event_id_for(correlation_id: str, event_type: str) -> str:
    """The same workflow's RebalancePlanned (or portfolio WorkflowFailed) always has the same id."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{correlation_id}:{event_type}"))


def parse_signal_event(event: dict[str, Any], store: PayloadStore | None) -> SignalGenerated:
    """An EventBridge event carrying SignalGenerated (inline or by S3 pointer), or EventParseError."""
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

    try:
        envelope = EventBridgeModel.model_validate(event)
    except ValidationError as exc:
        raise EventParseError(f"not an EventBridge event: {exc}") from exc
    if envelope.detail_type != "SignalGenerated":
        raise EventParseError(f"the portfolio handles SignalGenerated, not {envelope.detail_type!r}")
    if not isinstance(envelope.detail, dict):
        raise EventParseError("the EventBridge detail is not an object")
    parsed = decode_event(envelope.detail, store)
    if not isinstance(parsed, SignalGenerated):
        raise EventParseError(f"the portfolio handles SignalGenerated, not {parsed.event_type}")
    return parsed


class PortfolioService:
    def __init__(
        self,
        broker_factory: Callable[[], BrokerPort],
        publisher: EventPublisher,
        *,
        planner: RebalancePlanner | None = None,
        clock: Clock | None = None,
    ) -> None:
        # a factory, so that failing to reach the broker at all (credentials) is a WorkflowFailed too
        self._broker_factory = broker_factory
        self._broker: BrokerPort | None = None
        self._publisher = publisher
        self._planner = planner or RebalancePlanner(PlannerConfig())
        self._clock = clock or SystemClock()

    def _reader(self) -> PortfolioStateReader:
        if self._broker is None:
            self._broker = self._broker_factory()
        return PortfolioStateReader(self._broker, self._clock)

    def plan_and_publish(self, signal: SignalGenerated) -> PortfolioOutcome:
        """One attempt, not idempotent on its own (see OncePerCorrelation)."""
        portfolio = signal.consolidated_portfolio
        try:
            snapshot = self._reader().read(s for s, weight in portfolio.target_weights.items() if weight > 0)
            created_at = self._clock.now()
            plan = self._planner.plan(
                portfolio,
                snapshot,
                correlation_id=signal.correlation_id,
                created_at=created_at,
                trading_date=created_at.astimezone(NEW_YORK).date(),
            )
        except Exception as exc:  # every planning failure must end the workflow visibly, not loop
            return self._publish_failure(signal, exc)

        event = RebalancePlanned(
            **signal.caused(ORIGIN),
            event_id=event_id_for(signal.correlation_id, "RebalancePlanned"),
            rebalance_plan=plan,
            allocation_comparison=allocation_comparison(plan),
            trades_required=bool(plan.trades),
            consolidated_portfolio=portfolio.with_decision_paths(signal.signals_data),  # on to the email
        )
        self._publisher.publish(event)
        log.info(
            "rebalance_planned",
            plan_id=plan.plan_id,
            trades=len(plan.trades),
            sells=len(plan.sells),
            buys=len(plan.buys),
            total_sell_value=str(plan.total_sell_value),
            total_buy_value=str(plan.total_buy_value),
            estimated_cash_after=str(plan.estimated_cash_after),
        )
        return PortfolioOutcome(
            correlation_id=signal.correlation_id,
            status="planned",
            published_event_type=event.event_type,
            published_event_id=event.event_id,
            plan_id=plan.plan_id,
            trades_required=event.trades_required,
            trade_count=len(plan.trades),
        )

    def _publish_failure(self, signal: SignalGenerated, exc: Exception) -> PortfolioOutcome:
        details: dict[str, Any] = {"exception_type": type(exc).__name__}
        if isinstance(exc, MissingPriceError):
            details["missing_prices"] = exc.symbols
        if isinstance(exc, BrokerError):
            details["broker_status_code"] = exc.status_code
            details["broker_code"] = exc.code
        expected = isinstance(exc, (BrokerError, PlanningError, ValueError))
        log.error("portfolio_planning_failed", error=str(exc), exc_info=not expected, **details)
        event = WorkflowFailed(
            **signal.caused(ORIGIN),
            event_id=event_id_for(signal.correlation_id, "WorkflowFailed"),
            failure_reason=f"portfolio planning failed: {exc}",
            failure_step=FAILURE_STEP,
            error_details=details,
            trading_date=self._clock.now().astimezone(NEW_YORK).date(),
            # an untradable portfolio (the failure itself) would make the failure event invalid too
            consolidated_portfolio=None if signal.consolidated_portfolio.problems() else signal.consolidated_portfolio,
        )
        self._publisher.publish(event)
        return PortfolioOutcome(
            correlation_id=signal.correlation_id,
            status="failed",
            published_event_type=event.event_type,
            published_event_id=event.event_id,
            failure_reason=event.failure_reason,
        )


class OncePerCorrelation:
    """One plan (and one published outcome) per correlation id, on the shared exactly-once helper."""

    def __init__(self, service: PortfolioService, once: PowertoolsOnce) -> None:
        self._service = service
        self._once = once

    @classmethod
    def on_table(cls, service: PortfolioService, table_name: str, dynamodb_client: Any) -> OncePerCorrelation:
        return cls(
            service,
            PowertoolsOnce.on_table(
                table_name, dynamodb_client, key_prefix=IDEMPOTENCY_KEY_PREFIX, lifetime=IDEMPOTENCY_LIFETIME
            ),
        )

    def handle(self, signal: SignalGenerated, lambda_context: Any | None = None) -> PortfolioOutcome:
        self._once.register_lambda_context(lambda_context)  # an in-progress record expires with the invocation
        result = self._once.run(
            signal.correlation_id, lambda: self._service.plan_and_publish(signal).model_dump(mode="json")
        )
        outcome = PortfolioOutcome.model_validate({**result.value, "replayed": result.replayed})
        if outcome.replayed:
            log.info("portfolio_replay_ignored", outcome=outcome.status, plan_id=outcome.plan_id)
        return outcome
