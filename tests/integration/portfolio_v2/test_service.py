"""PortfolioService and OncePerCorrelation: plan or failure published once per correlation id.

Idempotency runs on Powertools with the real DynamoDB Local."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.support.portfolio_v2.builders import FakeBroker, portfolio, signal, signal_generated
from the_alchemiser.portfolio_v2.service import (
    OncePerCorrelation,
    PortfolioService,
    event_id_for,
)
from the_alchemiser.shared.broker.errors import BrokerUnavailableError
from the_alchemiser.shared.broker.models import Account, Asset, Position, Quote
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.events import (
    BaseEvent,
    InMemoryPublisher,
    RebalancePlanned,
    WorkflowFailed,
)
from the_alchemiser.shared.events.publisher import EventPublishError
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, TradeAction

D = Decimal
NOW = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)


def fake_broker() -> FakeBroker:
    return FakeBroker(
        account=Account(
            id="a", status="ACTIVE", cash=D(1000), buying_power=D(1000), equity=D(2000), portfolio_value=D(2000)
        ),
        positions=[
            Position(
                symbol="OLD",
                qty=D("4.5"),
                qty_available=D("4.5"),
                avg_entry_price=D(200),
                market_value=D(900),
                current_price=D(200),
            )
        ],
        quotes={
            "OLD": Quote(symbol="OLD", bid=D("199.9"), ask=D("200.1")),
            "SPY": Quote(symbol="SPY", bid=D("99.9"), ask=D("100.1")),
        },
        assets={"OLD": Asset(symbol="OLD", fractionable=True), "SPY": Asset(symbol="SPY", fractionable=True)},
    )


class FlakyPublisher(InMemoryPublisher):
    """Refuses the first `failures` publishes, like EventBridge on a bad day."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def publish(self, event: BaseEvent) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise EventPublishError("EventBridge refused: InternalFailure")
        super().publish(event)


class FailingBroker(FakeBroker):
    def get_account(self) -> Account:
        raise BrokerUnavailableError("503 from the broker", status_code=503)


def service(publisher: InMemoryPublisher, broker: FakeBroker | None = None) -> PortfolioService:
    chosen = broker or fake_broker()
    return PortfolioService(lambda: chosen, publisher, clock=FixedClock(NOW))


class FakeLambdaContext:
    function_name = "alchemiser-dev-portfolio"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class Once:
    """OncePerCorrelation called the way the handler calls it (with a Lambda context)."""

    def __init__(self, runner: OncePerCorrelation) -> None:
        self.runner = runner

    def handle(self, incoming: Any) -> Any:
        return self.runner.handle(incoming, lambda_context=FakeLambdaContext())


def once(svc: PortfolioService, dynamodb_local_client: Any, table: str) -> Once:
    return Once(OncePerCorrelation.on_table(svc, table, dynamodb_local_client))


SPY_ONLY = portfolio(signal("a.clj", "1", {"SPY": "1"}))


def test_plan_is_published_with_comparison_and_portfolio() -> None:
    publisher = InMemoryPublisher()
    incoming = signal_generated(SPY_ONLY, "corr-plan")
    outcome = service(publisher).plan_and_publish(incoming)
    assert outcome.status == "planned" and outcome.trades_required and outcome.trade_count == 2
    [event] = publisher.events
    assert isinstance(event, RebalancePlanned)
    assert (event.correlation_id, event.causation_id) == ("corr-plan", incoming.event_id)
    assert event.event_id == outcome.published_event_id == event_id_for("corr-plan", "RebalancePlanned")
    assert event.source == "alchemiser.portfolio_v2"
    assert event.consolidated_portfolio == SPY_ONLY
    plan = event.rebalance_plan
    assert plan.item("OLD").quantity == D("4.5") and plan.item("OLD").full_liquidation
    assert plan.item("SPY").action == TradeAction.BUY
    assert plan.total_buy_value <= plan.cash + plan.total_sell_value
    assert event.allocation_comparison["SPY"]["target_weight"] == 1
    assert event.allocation_comparison["OLD"]["current_weight"] == D(900) / D(2000)
    assert str(plan.trading_date) == "2026-11-24"
    assert RebalancePlanned.model_validate_json(event.model_dump_json()) == event


def test_missing_price_publishes_workflow_failed_naming_the_symbol() -> None:
    publisher = InMemoryPublisher()
    pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "NOQ": "0.5"}))
    broker = fake_broker()
    broker.assets["NOQ"] = Asset(symbol="NOQ", fractionable=True)
    outcome = service(publisher, broker).plan_and_publish(signal_generated(pf, "corr-noprice"))
    assert outcome.status == "failed"
    [event] = publisher.events
    assert isinstance(event, WorkflowFailed)
    assert event.failure_step == "portfolio"
    assert "NOQ" in event.failure_reason
    assert event.error_details["missing_prices"] == ["NOQ"]
    assert event.consolidated_portfolio == pf


def test_broker_failure_publishes_workflow_failed_and_does_not_raise() -> None:
    publisher = InMemoryPublisher()
    broken = FailingBroker(account=fake_broker().account, positions=[], quotes={}, assets={})
    outcome = service(publisher, broken).plan_and_publish(signal_generated(SPY_ONLY, "corr-broker"))
    assert outcome.status == "failed"
    [event] = publisher.events
    assert isinstance(event, WorkflowFailed)
    assert event.error_details["exception_type"] == "BrokerUnavailableError"
    assert event.error_details["broker_status_code"] == 503


def test_broker_that_cannot_even_be_built_is_a_workflow_failed() -> None:
    publisher = InMemoryPublisher()

    def no_credentials() -> Any:
        raise RuntimeError("no Alpaca credentials configured")

    svc = PortfolioService(no_credentials, publisher, clock=FixedClock(NOW))
    outcome = svc.plan_and_publish(signal_generated(SPY_ONLY, "corr-creds"))
    assert outcome.status == "failed" and "credentials" in (outcome.failure_reason or "")


@pytest.mark.dynamodb_local
def test_the_same_signal_twice_makes_one_plan_and_one_event(dynamodb_local_client: Any, idempotency_table: str) -> None:
    publisher = InMemoryPublisher()
    runner = once(service(publisher), dynamodb_local_client, idempotency_table)
    incoming = signal_generated(SPY_ONLY, "corr-twice")
    first = runner.handle(incoming)
    second = runner.handle(incoming)
    assert first.status == "planned" and not first.replayed
    assert second.replayed and second.model_copy(update={"replayed": False}) == first
    assert len(publisher.events) == 1


@pytest.mark.dynamodb_local
def test_a_second_signal_for_the_same_workflow_is_ignored(dynamodb_local_client: Any, idempotency_table: str) -> None:
    # failure mode 2: a duplicate SignalGenerated (new event id, other weights) must not make a second plan
    publisher = InMemoryPublisher()
    runner = once(service(publisher), dynamodb_local_client, idempotency_table)
    runner.handle(signal_generated(SPY_ONLY, "corr-dup"))
    other = portfolio(signal("a.clj", "1", {"OLD": "1"}))
    again = runner.handle(signal_generated(other, "corr-dup"))
    assert again.replayed
    assert len(publisher.events) == 1
    other_workflow = runner.handle(signal_generated(SPY_ONLY, "corr-other"))
    assert not other_workflow.replayed and len(publisher.events) == 2


@pytest.mark.dynamodb_local
def test_failed_publish_is_retried_then_published_once(dynamodb_local_client: Any, idempotency_table: str) -> None:
    publisher = FlakyPublisher(failures=1)
    runner = once(service(publisher), dynamodb_local_client, idempotency_table)
    incoming = signal_generated(SPY_ONLY, "corr-flaky")
    with pytest.raises(EventPublishError):
        runner.handle(incoming)
    assert publisher.events == []
    retried = runner.handle(incoming)  # the Lambda retry: not a replay, plans and publishes
    assert not retried.replayed and retried.status == "planned"
    assert len(publisher.events) == 1
    assert runner.handle(incoming).replayed
    assert len(publisher.events) == 1


@pytest.mark.dynamodb_local
def test_a_failure_is_published_once_too(dynamodb_local_client: Any, idempotency_table: str) -> None:
    publisher = InMemoryPublisher()
    broken = FailingBroker(account=fake_broker().account, positions=[], quotes={}, assets={})
    runner = once(service(publisher, broken), dynamodb_local_client, idempotency_table)
    incoming = signal_generated(SPY_ONLY, "corr-fail-once")
    assert runner.handle(incoming).status == "failed"
    assert runner.handle(incoming).replayed
    assert [type(e) for e in publisher.events] == [WorkflowFailed]


def test_the_plan_carries_each_strategys_decision_path_to_the_outcome() -> None:
    """The email is built from the outcome event, which has the portfolio but not the signals."""
    publisher = InMemoryPublisher()
    incoming = signal_generated(SPY_ONLY, "corr-paths")
    path = ["weights: SPY 100.0%", "if rsi(SPY, 10)=71.2 > 79: false by 7.8 -> else"]
    incoming = incoming.model_copy(
        update={"signals_data": [s.model_copy(update={"trace_summary": path}) for s in incoming.signals_data]}
    )
    service(publisher).plan_and_publish(incoming)
    [event] = publisher.events
    assert isinstance(event, RebalancePlanned)
    assert event.consolidated_portfolio.decision_paths == {"a.clj": path}


def test_the_planner_refuses_weights_outside_zero_and_one_with_a_workflow_failed() -> None:
    """#14 finding 8 at the planner: a portfolio that skipped validation ({SPY 1.5, OLD -0.5}) is never planned
    (before: OLD was dropped and SPY bought for 1.5x the equity)."""
    weights = {"SPY": D("1.5"), "OLD": D("-0.5")}
    levered = ConsolidatedPortfolio.model_construct(
        as_of=SPY_ONLY.as_of,
        target_weights=weights,
        strategy_contributions={"a.clj": weights},
        strategy_allocations={"a.clj": D(1)},
        rebalance_thresholds={},
        decision_paths={},
    )
    incoming = signal_generated(SPY_ONLY, "corr-levered").model_copy(update={"consolidated_portfolio": levered})
    publisher = InMemoryPublisher()
    outcome = service(publisher).plan_and_publish(incoming)
    assert outcome.status == "failed"
    assert "SPY: target weight 1.5 outside [0, 1]" in (outcome.failure_reason or "")
    assert [type(e) for e in publisher.events] == [WorkflowFailed]
