"""Powertools Metrics (EMF) through the metrics port: the EMF lines, and the values each service puts.

Issue 14: orders placed/filled/failed, slippage (bps), strategy failures and workflow duration, with an
alarm on failed orders (template: FailedOrdersAlarm)."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from the_alchemiser.shared.events import SignalGenerated, WorkflowCompleted, WorkflowFailed
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.metrics import (
    InMemoryMetrics,
    PowertoolsMetrics,
    execution_metrics,
    outcome_metrics,
    strategy_failures,
)
from the_alchemiser.shared.schemas import ExecutionResult, ExecutionStatus, OrderOutcome, OrderResult

D = Decimal
BASE: dict[str, Any] = {
    "correlation_id": "corr-1",
    "causation_id": "evt-0",
    "source_module": "execution_v2",
    "source_component": "ExecutionService",
}


def order(symbol: str, outcome: OrderOutcome, slippage: str | None = None) -> OrderResult:
    filled = D(0) if outcome in (OrderOutcome.FAILED, OrderOutcome.SKIPPED) else D(3)
    return OrderResult(
        symbol=symbol,
        side="buy",
        outcome=outcome,
        requested_qty=D(3),
        filled_qty=filled,
        avg_fill_price=D(100) if filled else None,
        filled_value=filled * 100,
        slippage_bps=D(slippage) if slippage is not None else None,
        error="rejected: no" if outcome is OrderOutcome.FAILED else None,
    )


def result() -> ExecutionResult:
    return ExecutionResult(
        plan_id="plan-1",
        correlation_id="corr-1",
        status=ExecutionStatus.PARTIAL,
        orders=[
            order("SPY", OrderOutcome.FILLED, "3.25"),
            order("QQQ", OrderOutcome.PARTIALLY_FILLED, "-1.5"),
            order("BAD", OrderOutcome.FAILED),
            order("HALT", OrderOutcome.SKIPPED),
        ],
        orders_placed=3,
        orders_succeeded=2,
        total_buy_value=D(600),
        total_sell_value=D(0),
        started_at=datetime(2026, 11, 24, 20, 30, 5, tzinfo=UTC),
        completed_at=datetime(2026, 11, 24, 20, 31, 35, tzinfo=UTC),
    )


def test_each_value_is_one_emf_line_in_the_stacks_namespace() -> None:
    from the_alchemiser.shared.logging import workflow_context

    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        with workflow_context("corr-emf", "evt-emf"):
            PowertoolsMetrics("alchemiser-prod").put("OrdersFailed", 2)
        PowertoolsMetrics("alchemiser-prod").put("SlippageBps", 3.25, "None")
        PowertoolsMetrics("alchemiser-prod").put("WorkflowDuration", 95.0, "Seconds")
    finally:
        configure_logging("INFO", stream=sys.stdout)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 3
    for line, (name, unit, value) in zip(
        lines,
        [("OrdersFailed", "Count", 2.0), ("SlippageBps", "None", 3.25), ("WorkflowDuration", "Seconds", 95.0)],
        strict=True,
    ):
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive == {
            "Namespace": "alchemiser-prod",
            "Dimensions": [[]],
            "Metrics": [{"Name": name, "Unit": unit}],
        }
        assert isinstance(line["_aws"]["Timestamp"], int)
        assert line[name] in (value, [value])
        assert "correlation_id" in line and "causation_id" in line and "timestamp" in line  # like every log line
    assert (lines[0]["correlation_id"], lines[0]["causation_id"]) == ("corr-emf", "evt-emf")


def test_the_metrics_of_an_execution() -> None:
    metrics = InMemoryMetrics()
    for name, value, unit in execution_metrics(result()):
        metrics.put(name, value, unit)
    assert metrics.values("OrdersPlaced") == [3]
    assert metrics.values("OrdersFilled") == [2]  # filled and partially filled
    assert metrics.values("OrdersFailed") == [1]  # a skipped item is no failed order
    assert metrics.values("SlippageBps") == [3.25, -1.5]
    assert {unit for name, _, unit in metrics.recorded if name == "SlippageBps"} == {"None"}


def test_the_metrics_of_a_workflow_outcome() -> None:
    completed = WorkflowCompleted(
        **BASE, success=True, summary={}, timestamp=datetime(2026, 11, 24, 20, 31, 40, tzinfo=UTC)
    )
    run_time = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)
    assert outcome_metrics(completed, run_time) == [
        ("WorkflowsCompleted", 1, "Count"),
        ("WorkflowDuration", 100.0, "Seconds"),
    ]
    failed = WorkflowFailed(
        **BASE, failure_reason="x", failure_step="execution", timestamp=datetime(2026, 11, 24, 20, 45, tzinfo=UTC)
    )
    assert outcome_metrics(failed, run_time) == [
        ("WorkflowsFailed", 1, "Count"),
        ("WorkflowDuration", 900.0, "Seconds"),
    ]
    # no run time known, or an outcome before it (a forced run in the morning): no duration
    assert outcome_metrics(failed, None) == [("WorkflowsFailed", 1, "Count")]
    assert outcome_metrics(failed, datetime(2026, 11, 24, 21, 0, tzinfo=UTC)) == [("WorkflowsFailed", 1, "Count")]


@pytest.mark.parametrize(
    ("details", "count"),
    [
        ({"failed_strategies": {"a.clj": "boom", "b.clj": "bang"}}, 2),
        ({"missing_strategies": ["c.clj"], "received_strategies": ["a.clj"]}, 1),
        ({"error_type": "ValueError"}, 0),
    ],
)
def test_strategy_failures_of_an_aggregation_outcome(details: dict[str, Any], count: int) -> None:
    event = WorkflowFailed(**BASE, failure_reason="x", failure_step="strategy", error_details=details)
    assert strategy_failures(event) == count


def test_strategies_missing_under_merge_available_count_as_failures() -> None:
    from tests.support.notifications_v2.scenarios import portfolio, signals

    event = SignalGenerated(
        **BASE,
        session_id="s",
        signals_data=signals(),
        consolidated_portfolio=portfolio(),
        signal_count=len(signals()),
        metadata={"deadline_policy": "merge_available", "missing_strategies": "c.clj,d.clj"},
    )
    assert strategy_failures(event) == 2
    assert strategy_failures(event.model_copy(update={"metadata": {}})) == 0


def test_the_emf_timestamp_follows_the_stamping_clock_within_cloudwatchs_window() -> None:
    import warnings
    from datetime import timedelta

    from the_alchemiser.shared.stamps import stamped_by

    def emf_at(moment: datetime) -> dict[str, Any]:
        stream = io.StringIO()
        configure_logging("INFO", stream=stream)
        try:
            with stamped_by(lambda: moment), warnings.catch_warnings():
                warnings.simplefilter("error")  # no "will be skipped by CloudWatch" warning
                PowertoolsMetrics("alchemiser-test").put("OrdersPlaced", 1)
        finally:
            configure_logging("INFO", stream=sys.stdout)
        line: dict[str, Any] = json.loads(stream.getvalue())
        return line

    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    assert abs(emf_at(recent)["_aws"]["Timestamp"] - recent.timestamp() * 1000) <= 1
    old = datetime(2024, 6, 10, 19, 30, tzinfo=UTC)
    line = emf_at(old)
    assert line["timestamp"].startswith("2024-06-10")  # the log line's simulated time
    assert abs(line["_aws"]["Timestamp"] / 1000 - datetime.now(UTC).timestamp()) < 60  # CloudWatch's: now
    # CloudWatch takes 2 hours into the future, not 13 days: a local day's simulated 15:30 ahead of the
    # real morning must not be stamped (nor warn); 1 hour ahead is kept
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=4)
    assert abs(emf_at(ahead)["_aws"]["Timestamp"] / 1000 - datetime.now(UTC).timestamp()) < 60
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    assert abs(emf_at(soon)["_aws"]["Timestamp"] - soon.timestamp() * 1000) <= 1
