"""The aggregator puts StrategyFailures once per session decision (issue 14, Powertools Metrics)."""

from __future__ import annotations

from tests.fixtures.aggregator_v2 import ALLOCATIONS, WEIGHTS, failure, open_session, success
from tests.fixtures.idempotency import MemoryOnce
from tests.integration.aggregator_v2.test_aggregator import deadline_of
from the_alchemiser.aggregator_v2.service import AggregatorConfig, DeadlinePolicy, SignalAggregator
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.events import InMemoryPublisher
from the_alchemiser.shared.metrics import InMemoryMetrics
from the_alchemiser.shared.sessions.ports import SessionStore


def test_a_failed_strategy_is_counted_once(
    sessions: SessionStore, publisher: InMemoryPublisher, clock: FixedClock
) -> None:
    metrics = InMemoryMetrics()
    counted = SignalAggregator(sessions=sessions, publisher=publisher, once=MemoryOnce(), clock=clock, metrics=metrics)
    session = open_session(sessions, ALLOCATIONS)
    counted.handle_partial(failure(session, "beta.clj", "DslParseError: boom"))
    counted.handle_partial(failure(session, "beta.clj", "DslParseError: boom"))  # redelivered
    counted.handle_deadline(deadline_of(session))
    assert metrics.values("StrategyFailures") == [1]


def test_strategies_missing_at_the_deadline_are_counted(
    sessions: SessionStore, publisher: InMemoryPublisher, clock: FixedClock
) -> None:
    metrics = InMemoryMetrics()
    config = AggregatorConfig(deadline_policy=DeadlinePolicy.MERGE_AVAILABLE)
    counted = SignalAggregator(
        sessions=sessions, publisher=publisher, once=MemoryOnce(), clock=clock, config=config, metrics=metrics
    )
    session = open_session(sessions, ALLOCATIONS)
    first = session.strategies[0]
    counted.handle_partial(success(session, first, WEIGHTS[first]))
    counted.handle_deadline(deadline_of(session))
    assert metrics.values("StrategyFailures") == [len(ALLOCATIONS) - 1]
