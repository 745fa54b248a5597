"""Notifications puts each workflow outcome's metrics once (issue 14, Powertools Metrics): completed or
failed, and the workflow duration from the day's run time to the outcome; a redelivery puts none."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests.support.notifications_v2.helpers import service_for
from tests.support.notifications_v2.scenarios import market_closed_day, success_day
from the_alchemiser.shared.metrics import InMemoryMetrics

RUN_TIME = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)  # 15:30 New York


def run_time_of(day: date) -> datetime | None:
    return RUN_TIME if day == RUN_TIME.date() else None


def test_each_outcome_is_counted_once_with_its_duration() -> None:
    for scenario, name in ((success_day(), "WorkflowsCompleted"), (market_closed_day(), "WorkflowsFailed")):
        metrics = InMemoryMetrics()
        service, sent, _, _ = service_for(scenario, metrics=metrics, run_time_of=run_time_of)
        service.handle_event(scenario.event)
        service.handle_event(scenario.event)  # redelivered: one email, one count
        assert len(sent.sent) == 1
        assert metrics.values(name) == [1]
        expected = (scenario.event.timestamp - RUN_TIME).total_seconds()
        assert metrics.values("WorkflowDuration") == [expected] and expected > 0
