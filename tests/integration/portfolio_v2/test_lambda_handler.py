"""The Lambda entry point end to end: EventBridge envelope -> SignalGenerated -> RebalancePlanned on the bus.

EventBridge and S3 are moto (a rule on the bus delivers to an SQS queue we read back); the idempotency
table is the real DynamoDB Local; the broker is the in-memory fake (the real one has its own test)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from tests.fixtures.aws import REGION
from tests.integration.portfolio_v2.test_service import FakeLambdaContext, fake_broker
from tests.support.bus import Bus
from tests.support.portfolio_v2.builders import portfolio, signal, signal_generated
from the_alchemiser.portfolio_v2.lambda_handler import handle
from the_alchemiser.portfolio_v2.wiring import PortfolioRuntime, build_runtime
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.config.settings import Settings
from the_alchemiser.shared.events import BaseEvent, EventParseError, RebalancePlanned, WorkflowFailed
from the_alchemiser.shared.events.publisher import EventPointer

pytestmark = pytest.mark.dynamodb_local

NOW = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)
SPY_ONLY = portfolio(signal("a.clj", "1", {"SPY": "1"}))


def envelope(event: BaseEvent, detail: Any = None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"eb-{event.event_id}",
        "detail-type": event.event_type,
        "source": event.source,
        "account": "123456789012",
        "time": event.timestamp.isoformat().replace("+00:00", "Z"),
        "region": REGION,
        "resources": [],
        "detail": json.loads(event.model_dump_json()) if detail is None else detail,
    }


@pytest.fixture
def bus() -> Iterator[Bus]:
    with mock_aws():  # DynamoDB Local (a localhost endpoint) passes through untouched
        yield Bus({"source": ["alchemiser.portfolio_v2"], "detail-type": ["RebalancePlanned", "WorkflowFailed"]})


@pytest.fixture
def runtime(bus: Bus, dynamodb_local_client: Any, idempotency_table: str) -> PortfolioRuntime:
    settings = Settings(
        EVENT_BUS_NAME=bus.name, IDEMPOTENCY_TABLE_NAME=idempotency_table, EVENT_PAYLOADS_BUCKET=bus.bucket
    )
    broker = fake_broker()
    return build_runtime(
        settings,
        broker_factory=lambda: broker,
        events_client=bus.events,
        s3_client=bus.s3,
        dynamodb_client=dynamodb_local_client,
        clock=FixedClock(NOW),
    )


def test_the_same_signal_delivered_twice_makes_one_plan_and_one_event(bus: Bus, runtime: PortfolioRuntime) -> None:
    incoming = signal_generated(SPY_ONLY, "corr-handler")
    first = handle(envelope(incoming), FakeLambdaContext(), runtime)
    second = handle(envelope(incoming), FakeLambdaContext(), runtime)
    assert first["status"] == "planned" and first["replayed"] is False
    assert second["replayed"] is True and second["plan_id"] == first["plan_id"]
    [published] = bus.received()
    assert isinstance(published, RebalancePlanned)
    assert published.event_id == first["published_event_id"]
    assert published.rebalance_plan.plan_id == first["plan_id"]
    assert published.causation_id == incoming.event_id
    assert published.rebalance_plan.item("OLD").full_liquidation


def test_a_signal_by_s3_pointer_is_resolved(bus: Bus, runtime: PortfolioRuntime) -> None:
    incoming = signal_generated(SPY_ONLY, "corr-pointer")
    key = f"events/{incoming.correlation_id}/SignalGenerated/{incoming.event_id}.json"
    bus.s3.put_object(Bucket=bus.bucket, Key=key, Body=incoming.model_dump_json().encode())
    pointer = EventPointer(
        event_type=incoming.event_type,
        event_id=incoming.event_id,
        correlation_id=incoming.correlation_id,
        causation_id=incoming.causation_id,
        payload_key=key,
    )
    result = handle(envelope(incoming, detail=json.loads(pointer.model_dump_json())), FakeLambdaContext(), runtime)
    assert result["status"] == "planned"
    assert [type(e) for e in bus.received()] == [RebalancePlanned]


def test_an_unpriceable_target_publishes_workflow_failed_once(bus: Bus, runtime: PortfolioRuntime) -> None:
    incoming = signal_generated(portfolio(signal("a.clj", "1", {"NOPE": "1"})), "corr-nope")
    for _ in range(2):
        result = handle(envelope(incoming), FakeLambdaContext(), runtime)
        assert result["status"] == "failed"
    [failed] = bus.received()
    assert isinstance(failed, WorkflowFailed)
    assert failed.failure_step == "portfolio" and "NOPE" in failed.failure_reason


def levered(event: dict[str, Any]) -> dict[str, Any]:
    """{SPY 1.5, OLD -0.5}: sums to 1 and its contributions add up, yet it would buy 1.5x the equity in SPY."""
    weights = {"SPY": "1.5", "OLD": "-0.5"}
    bad = {**event["detail"]["consolidated_portfolio"], "target_weights": weights}
    bad["strategy_contributions"] = {"a.clj": weights}
    return {**event, "detail": {**event["detail"], "consolidated_portfolio": bad}}


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda e: {**e, "detail": {**e["detail"], "signal_count": -1}}, id="invalid-field"),
        pytest.param(lambda e: {**e, "detail": {**e["detail"], "surprise": 1}}, id="unknown-field"),
        pytest.param(lambda e: {**e, "detail-type": "RebalancePlanned"}, id="wrong-detail-type"),
        pytest.param(lambda e: {k: v for k, v in e.items() if k != "detail"}, id="no-detail"),
        pytest.param(lambda e: {"Records": []}, id="not-eventbridge"),
        pytest.param(levered, id="weights-outside-0-1"),  # #14 finding 8
    ],
)
def test_malformed_events_raise_and_never_plan(bus: Bus, runtime: PortfolioRuntime, mutate: Any) -> None:
    event = mutate(envelope(signal_generated(SPY_ONLY, "corr-malformed")))
    with pytest.raises(EventParseError):
        handle(event, FakeLambdaContext(), runtime)
    assert bus.received() == []
