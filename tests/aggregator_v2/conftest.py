"""Aggregator fixtures: a fresh in-memory SessionStore per test (no Java), sessions and partials."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.fixtures.idempotency import MemoryOnce
from tests.fixtures.sessions import MemorySessionStore
from the_alchemiser.aggregator_v2.service import AggregatorConfig, SignalAggregator
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.events import InMemoryPublisher, PartialSignalGenerated
from the_alchemiser.shared.schemas import StrategySignal
from the_alchemiser.shared.sessions import AggregationSession, SessionStore

TRADING_DATE = date(2026, 11, 20)
AS_OF = date(2026, 11, 19)
START = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)  # 15:30 New York
ALLOCATIONS = {"alpha.clj": "0.5", "beta.clj": "0.3", "gamma.clj": "0.2"}
WEIGHTS = {
    "alpha.clj": {"SPY": "0.6", "TLT": "0.4"},
    "beta.clj": {"SPY": "0.25", "QQQ": "0.75"},
    "gamma.clj": {"GLD": "1"},
}


def expected_targets(allocations: dict[str, str], weights: dict[str, dict[str, str]]) -> dict[str, Decimal]:
    """The weighted sum per symbol, computed independently of the code under test."""
    targets: dict[str, Decimal] = {}
    for dsl_file, allocation in allocations.items():
        for symbol, weight in weights[dsl_file].items():
            targets[symbol] = targets.get(symbol, Decimal(0)) + Decimal(allocation) * Decimal(weight)
    return targets


@pytest.fixture
def sessions() -> MemorySessionStore:
    """The SessionStore in memory (held to the DynamoDB adapter's contract by tests/shared/test_session_store.py)."""
    return MemorySessionStore()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START + timedelta(seconds=5))


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def aggregator(sessions: SessionStore, publisher: InMemoryPublisher, clock: FixedClock) -> SignalAggregator:
    return SignalAggregator(
        once=MemoryOnce(), sessions=sessions, publisher=publisher, clock=clock, config=AggregatorConfig()
    )


def open_session(repo: SessionStore, allocations: dict[str, str]) -> AggregationSession:
    session = AggregationSession(
        session_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()),
        stage="test",
        trading_date=TRADING_DATE,
        as_of=AS_OF,
        allocations={f: Decimal(a) for f, a in allocations.items()},
        deadline=START + timedelta(minutes=10),
        created_at=START,
    )
    repo.create_session(session)
    return session


def success(session: AggregationSession, dsl_file: str, weights: dict[str, str]) -> PartialSignalGenerated:
    files = session.strategies
    return PartialSignalGenerated(
        correlation_id=session.correlation_id,
        causation_id=session.causation_id,
        source_module="strategy_v2",
        source_component="StrategyWorker",
        session_id=session.session_id,
        dsl_file=dsl_file,
        strategy_number=files.index(dsl_file) + 1,
        total_strategies=len(files),
        success=True,
        signals_data=StrategySignal(
            strategy=dsl_file,
            strategy_name=dsl_file.removesuffix(".clj").title(),
            allocation=session.allocations[dsl_file],
            weights={s: Decimal(w) for s, w in weights.items()},
            as_of=session.as_of,
            trace_summary=[f"{dsl_file}: chose {', '.join(weights)}"],
        ),
    )


def failure(session: AggregationSession, dsl_file: str, error: str) -> PartialSignalGenerated:
    files = session.strategies
    return PartialSignalGenerated(
        correlation_id=session.correlation_id,
        causation_id=session.causation_id,
        source_module="strategy_v2",
        source_component="StrategyWorker",
        session_id=session.session_id,
        dsl_file=dsl_file,
        strategy_number=files.index(dsl_file) + 1,
        total_strategies=len(files),
        success=False,
        error_message=error,
    )
