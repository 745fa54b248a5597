"""Signal Aggregator on the real DynamoDB Local: fan-in exactly once, under any order, redelivery and races."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fixtures.aggregator_v2 import (
    ALLOCATIONS,
    WEIGHTS,
    expected_targets,
    failure,
    open_session,
    success,
)
from tests.fixtures.idempotency import MemoryOnce
from tests.fixtures.sessions import MemorySessionStore
from the_alchemiser.aggregator_v2.service import (
    Action,
    AggregatorConfig,
    DeadlinePolicy,
    SignalAggregator,
    UnknownSessionError,
)
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.events import (
    BaseEvent,
    InMemoryPublisher,
    PartialSignalGenerated,
    SignalGenerated,
    WorkflowFailed,
)
from the_alchemiser.shared.sessions import (
    PartialResult,
    SessionDeadline,
    SessionStatus,
    SessionStore,
)


def deadline_of(session: Any) -> SessionDeadline:
    return SessionDeadline(
        session_id=session.session_id,
        correlation_id=session.correlation_id,
        causation_id=session.causation_id,
        deadline=session.deadline,
    )


def outcomes(publisher: InMemoryPublisher) -> list[BaseEvent]:
    return [e for e in publisher.events if isinstance(e, SignalGenerated | WorkflowFailed)]


@pytest.mark.parametrize("order", list(itertools.permutations(ALLOCATIONS)))
def test_workers_in_any_order_produce_one_signal_with_the_weighted_sum(
    aggregator: SignalAggregator, sessions: SessionStore, publisher: InMemoryPublisher, order: Any
) -> None:
    session = open_session(sessions, ALLOCATIONS)
    actions = [aggregator.handle_partial(success(session, f, WEIGHTS[f])).action for f in order]

    assert actions == [Action.STORED, Action.STORED, Action.COMPLETED]
    [signal] = outcomes(publisher)
    assert isinstance(signal, SignalGenerated)
    assert signal.consolidated_portfolio.target_weights == expected_targets(ALLOCATIONS, WEIGHTS)
    assert signal.signal_count == 3
    assert [s.strategy for s in signal.signals_data] == list(ALLOCATIONS)  # session order, not arrival order
    assert signal.correlation_id == session.correlation_id
    stored = sessions.get_session(session.session_id)
    assert stored is not None and stored.status is SessionStatus.COMPLETED and stored.outcome_published


def test_a_larger_fan_in_in_random_order(
    aggregator: SignalAggregator, sessions: SessionStore, publisher: InMemoryPublisher
) -> None:
    rng = random.Random(11)
    files = [f"s{i:02d}.clj" for i in range(12)]
    allocations = {f: "0.08" for f in files[:-1]} | {files[-1]: "0.12"}
    universe = ["SPY", "QQQ", "TLT", "GLD", "UVXY", "BIL", "SOXL"]
    weights: dict[str, dict[str, str]] = {}
    for f in files:
        picked = rng.sample(universe, rng.randint(1, 4))
        shares = [Decimal(1) / len(picked)] * len(picked)
        shares[-1] = 1 - sum(shares[:-1])
        weights[f] = {s: str(w) for s, w in zip(picked, shares, strict=True)}
    session = open_session(sessions, allocations)
    for f in rng.sample(files, len(files)):
        aggregator.handle_partial(success(session, f, weights[f]))
    [signal] = outcomes(publisher)
    assert isinstance(signal, SignalGenerated)
    assert signal.consolidated_portfolio.target_weights == expected_targets(allocations, weights)
    assert sum(signal.consolidated_portfolio.target_weights.values()) == 1


def test_every_partial_redelivered_before_and_after_completion_changes_nothing(
    aggregator: SignalAggregator,
    sessions: MemorySessionStore,
    publisher: InMemoryPublisher,
) -> None:
    session = open_session(sessions, ALLOCATIONS)
    events = {f: success(session, f, WEIGHTS[f]) for f in ALLOCATIONS}
    first, second, last = list(ALLOCATIONS)

    aggregator.handle_partial(events[first])
    assert aggregator.handle_partial(events[first]).action is Action.DUPLICATE
    aggregator.handle_partial(events[second])
    # a retried worker publishes a new event (new id, other weights): the first stored answer stands
    retried = success(session, second, {"BIL": "1"})
    assert aggregator.handle_partial(retried).action is Action.DUPLICATE
    aggregator.handle_partial(events[first])
    assert outcomes(publisher) == []

    assert aggregator.handle_partial(events[last]).action is Action.COMPLETED
    before = sessions.snapshot()
    for event in [*events.values(), retried, *events.values()]:
        assert aggregator.handle_partial(event).action is Action.ALREADY_DECIDED
    assert aggregator.handle_deadline(deadline_of(session)).action is Action.ALREADY_DECIDED

    assert sessions.snapshot() == before
    [signal] = outcomes(publisher)
    assert isinstance(signal, SignalGenerated)
    assert signal.consolidated_portfolio.target_weights == expected_targets(ALLOCATIONS, WEIGHTS)


def test_concurrent_arrival_of_the_last_two_partials_publishes_once(
    sessions: SessionStore, publisher: InMemoryPublisher, clock: FixedClock
) -> None:
    aggregator = SignalAggregator(once=MemoryOnce(), sessions=sessions, publisher=publisher, clock=clock)
    rounds = 12
    for _ in range(rounds):
        session = open_session(sessions, ALLOCATIONS)
        first, *last_two = list(ALLOCATIONS)
        aggregator.handle_partial(success(session, first, WEIGHTS[first]))
        # each of the last two delivered twice at once (EventBridge may deliver more than once)
        deliveries = [success(session, f, WEIGHTS[f]) for f in last_two for _ in range(2)]
        barrier = threading.Barrier(len(deliveries))
        errors: list[BaseException] = []

        def deliver(
            event: PartialSignalGenerated, barrier: threading.Barrier = barrier, errors: list[BaseException] = errors
        ) -> None:
            barrier.wait()
            try:
                aggregator.handle_partial(event)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=deliver, args=(e,)) for e in deliveries]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    signals = [e for e in publisher.events if isinstance(e, SignalGenerated)]
    assert len(signals) == rounds
    assert len({s.session_id for s in signals}) == rounds


def test_one_worker_failing_ends_the_workflow_at_once(
    aggregator: SignalAggregator, sessions: SessionStore, publisher: InMemoryPublisher
) -> None:
    session = open_session(sessions, ALLOCATIONS)
    aggregator.handle_partial(success(session, "alpha.clj", WEIGHTS["alpha.clj"]))
    outcome = aggregator.handle_partial(failure(session, "beta.clj", "DslParseError: beta.clj:3:7: expected ')'"))

    assert outcome.action is Action.FAILED  # not waiting for gamma, not waiting for the deadline
    [failed] = outcomes(publisher)
    assert isinstance(failed, WorkflowFailed)
    assert failed.failure_step == "strategy"
    assert failed.error_details["failed_strategies"] == {"beta.clj": "DslParseError: beta.clj:3:7: expected ')'"}
    assert "beta.clj" in failed.failure_reason and "expected ')'" in failed.failure_reason
    assert failed.trading_date == session.trading_date

    # the rest arrives later, and the deadline fires: nothing more is published
    aggregator.handle_partial(success(session, "gamma.clj", WEIGHTS["gamma.clj"]))
    aggregator.handle_partial(failure(session, "beta.clj", "again"))
    aggregator.handle_deadline(deadline_of(session))
    assert len(outcomes(publisher)) == 1
    stored = sessions.get_session(session.session_id)
    assert stored is not None and stored.status is SessionStatus.FAILED


def test_a_failure_the_worker_marked_in_the_session_still_ends_the_workflow_once(
    aggregator: SignalAggregator,
    sessions: SessionStore,
    publisher: InMemoryPublisher,
    clock: FixedClock,
) -> None:
    session = open_session(sessions, ALLOCATIONS)
    event = failure(session, "gamma.clj", "MissingMarketDataError: no market data for: XYZ")
    # the worker writes its failure into the session before publishing
    sessions.record_partial(
        session.session_id,
        PartialResult(
            dsl_file="gamma.clj",
            success=False,
            error_message=event.error_message,
            event_id=event.event_id,
            received_at=clock.now(),
        ),
    )
    assert aggregator.handle_partial(event).action is Action.FAILED
    assert aggregator.handle_partial(event).action is Action.ALREADY_DECIDED
    [failed] = outcomes(publisher)
    assert isinstance(failed, WorkflowFailed)
    assert failed.error_details["failed_strategies"] == {"gamma.clj": "MissingMarketDataError: no market data for: XYZ"}


def test_a_marked_failure_whose_event_was_lost_ends_the_session_at_the_deadline_as_a_strategy_failure(
    aggregator: SignalAggregator,
    sessions: SessionStore,
    publisher: InMemoryPublisher,
    clock: FixedClock,
) -> None:
    session = open_session(sessions, ALLOCATIONS)
    aggregator.handle_partial(success(session, "alpha.clj", WEIGHTS["alpha.clj"]))
    sessions.record_partial(
        session.session_id,
        PartialResult(dsl_file="beta.clj", success=False, error_message="boom", event_id="e", received_at=clock.now()),
    )
    assert aggregator.handle_deadline(deadline_of(session)).action is Action.FAILED
    [failed] = outcomes(publisher)
    assert isinstance(failed, WorkflowFailed) and failed.failure_step == "strategy"


def test_one_worker_never_answering_ends_the_workflow_at_the_deadline(
    aggregator: SignalAggregator, sessions: SessionStore, publisher: InMemoryPublisher
) -> None:
    session = open_session(sessions, ALLOCATIONS)
    aggregator.handle_partial(success(session, "alpha.clj", WEIGHTS["alpha.clj"]))
    aggregator.handle_partial(success(session, "gamma.clj", WEIGHTS["gamma.clj"]))
    assert outcomes(publisher) == []

    outcome = aggregator.handle_deadline(deadline_of(session))
    assert outcome.action is Action.FAILED and outcome.missing == ["beta.clj"]
    [failed] = outcomes(publisher)
    assert isinstance(failed, WorkflowFailed)
    assert failed.failure_step == "aggregation"
    assert failed.error_details["missing_strategies"] == ["beta.clj"]
    assert failed.error_details["received_strategies"] == ["alpha.clj", "gamma.clj"]
    assert "beta.clj" in failed.failure_reason and "no trading" in failed.failure_reason

    # the straggler arrives after the deadline, the deadline message is redelivered: nothing changes
    assert aggregator.handle_partial(success(session, "beta.clj", WEIGHTS["beta.clj"])).action is Action.ALREADY_DECIDED
    assert aggregator.handle_deadline(deadline_of(session)).action is Action.ALREADY_DECIDED
    assert len(outcomes(publisher)) == 1
    assert not [e for e in publisher.events if isinstance(e, SignalGenerated)]


def test_the_deadline_after_completion_changes_nothing(
    aggregator: SignalAggregator, sessions: SessionStore, publisher: InMemoryPublisher
) -> None:
    session = open_session(sessions, {"alpha.clj": "1"})
    aggregator.handle_partial(success(session, "alpha.clj", WEIGHTS["alpha.clj"]))
    assert aggregator.handle_deadline(deadline_of(session)).action is Action.ALREADY_DECIDED
    assert [type(e) for e in outcomes(publisher)] == [SignalGenerated]


def test_merge_available_policy_trades_the_answered_strategies_rescaled(
    sessions: SessionStore, publisher: InMemoryPublisher, clock: FixedClock
) -> None:
    aggregator = SignalAggregator(
        once=MemoryOnce(),
        sessions=sessions,
        publisher=publisher,
        clock=clock,
        config=AggregatorConfig(deadline_policy=DeadlinePolicy.MERGE_AVAILABLE),
    )
    session = open_session(sessions, ALLOCATIONS)
    aggregator.handle_partial(success(session, "alpha.clj", WEIGHTS["alpha.clj"]))
    aggregator.handle_partial(success(session, "gamma.clj", WEIGHTS["gamma.clj"]))
    assert aggregator.handle_deadline(deadline_of(session)).action is Action.COMPLETED
    [signal] = outcomes(publisher)
    assert isinstance(signal, SignalGenerated)
    portfolio = signal.consolidated_portfolio
    assert set(portfolio.strategy_allocations) == {"alpha.clj", "gamma.clj"}
    assert abs(portfolio.strategy_allocations["alpha.clj"] - Decimal(5) / 7) < Decimal("1e-20")
    assert sum(portfolio.strategy_allocations.values()) == 1
    assert signal.metadata["missing_strategies"] == "beta.clj"


def test_merge_available_with_nothing_answered_still_fails(
    sessions: SessionStore, publisher: InMemoryPublisher, clock: FixedClock
) -> None:
    aggregator = SignalAggregator(
        once=MemoryOnce(),
        sessions=sessions,
        publisher=publisher,
        clock=clock,
        config=AggregatorConfig(deadline_policy=DeadlinePolicy.MERGE_AVAILABLE),
    )
    session = open_session(sessions, ALLOCATIONS)
    aggregator.handle_deadline(deadline_of(session))
    [failed] = outcomes(publisher)
    assert isinstance(failed, WorkflowFailed)
    assert failed.error_details["missing_strategies"] == list(ALLOCATIONS)


def test_the_merged_portfolio_keeps_which_strategy_wants_which_symbol(
    aggregator: SignalAggregator, sessions: SessionStore, publisher: InMemoryPublisher
) -> None:
    session = open_session(sessions, ALLOCATIONS)
    for f in ALLOCATIONS:
        aggregator.handle_partial(success(session, f, WEIGHTS[f]))
    [signal] = outcomes(publisher)
    assert isinstance(signal, SignalGenerated)
    # through the wire format, as the portfolio service will receive it
    portfolio = SignalGenerated.model_validate_json(signal.model_dump_json()).consolidated_portfolio
    assert portfolio.strategy_contributions == {
        "alpha.clj": {"SPY": Decimal("0.30"), "TLT": Decimal("0.20")},
        "beta.clj": {"SPY": Decimal("0.075"), "QQQ": Decimal("0.225")},
        "gamma.clj": {"GLD": Decimal("0.2")},
    }
    assert portfolio.target_weights["SPY"] == Decimal("0.375")
    assert portfolio.attribution("SPY") == {"alpha.clj": Decimal("0.8"), "beta.clj": Decimal("0.2")}
    assert portfolio.attribution("GLD") == {"gamma.clj": Decimal(1)}
    assert portfolio.strategy_allocations == {f: Decimal(a) for f, a in ALLOCATIONS.items()}
    assert signal.signals_data[0].trace_summary == ["alpha.clj: chose SPY, TLT"]


def test_a_success_inconsistent_with_the_session_is_a_strategy_failure(
    aggregator: SignalAggregator, sessions: SessionStore, publisher: InMemoryPublisher
) -> None:
    session = open_session(sessions, ALLOCATIONS)
    good = success(session, "alpha.clj", WEIGHTS["alpha.clj"])
    assert good.signals_data is not None
    wrong_allocation = good.model_copy(
        update={"signals_data": good.signals_data.model_copy(update={"allocation": Decimal("0.9")})}
    )
    assert aggregator.handle_partial(wrong_allocation).action is Action.FAILED
    [failed] = outcomes(publisher)
    assert isinstance(failed, WorkflowFailed)
    assert "allocation 0.9 differs" in failed.error_details["failed_strategies"]["alpha.clj"]


def test_partials_not_of_this_session_are_ignored_and_unknown_sessions_raise(
    aggregator: SignalAggregator, sessions: SessionStore, publisher: InMemoryPublisher
) -> None:
    session = open_session(sessions, ALLOCATIONS)
    stranger = success(session, "alpha.clj", WEIGHTS["alpha.clj"]).model_copy(update={"dsl_file": "delta.clj"})
    assert aggregator.handle_partial(stranger).action is Action.IGNORED
    other_workflow = success(session, "alpha.clj", WEIGHTS["alpha.clj"]).model_copy(update={"correlation_id": "x"})
    assert aggregator.handle_partial(other_workflow).action is Action.IGNORED
    assert sessions.partials(session.session_id) == {}
    with pytest.raises(UnknownSessionError):
        aggregator.handle_partial(success(session, "alpha.clj", {"SPY": "1"}).model_copy(update={"session_id": "nope"}))
    assert publisher.events == []


class FlakyPublisher(InMemoryPublisher):
    """Fails the first publish, like an EventBridge outage right after the decision was written."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    def publish(self, event: BaseEvent) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("EventBridge unavailable")
        super().publish(event)


def test_an_outcome_decided_but_not_published_is_republished_once_after_the_grace_period(
    sessions: SessionStore, clock: FixedClock
) -> None:
    publisher = FlakyPublisher()
    aggregator = SignalAggregator(once=MemoryOnce(), sessions=sessions, publisher=publisher, clock=clock)
    session = open_session(sessions, {"alpha.clj": "1"})
    event = success(session, "alpha.clj", WEIGHTS["alpha.clj"])
    with pytest.raises(RuntimeError, match="EventBridge unavailable"):
        aggregator.handle_partial(event)  # the Lambda fails: EventBridge retries the delivery
    assert publisher.events == []

    # a retry at once might race a slow publisher: it waits
    assert aggregator.handle_partial(event).action is Action.ALREADY_DECIDED
    assert publisher.events == []
    clock.advance(timedelta(minutes=3))
    assert aggregator.handle_partial(event).action is Action.REPUBLISHED
    assert aggregator.handle_partial(event).action is Action.ALREADY_DECIDED
    [signal] = publisher.events
    stored = sessions.get_session(session.session_id)
    assert stored is not None and stored.outcome_published
    assert stored.outcome_event_json is not None and signal.event_id in stored.outcome_event_json


class CrashAfterPublish:
    """The sessions repository of a Lambda that dies right after publishing, before marking it published."""

    def __init__(self, inner: SessionStore) -> None:
        self._inner = inner
        self.crashes_left = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def mark_outcome_published(self, session_id: str) -> None:
        if self.crashes_left:
            self.crashes_left -= 1
            raise TimeoutError("Task timed out")
        self._inner.mark_outcome_published(session_id)


def test_an_outcome_published_but_not_marked_is_never_published_again(
    sessions: SessionStore, publisher: InMemoryPublisher, clock: FixedClock
) -> None:
    """The exactly-once helper around the publish: the republish after the grace period finds the
    publish already done (its record), marks it, and publishes nothing (before: a second SignalGenerated)."""
    crashing = CrashAfterPublish(sessions)
    aggregator = SignalAggregator(once=MemoryOnce(), sessions=crashing, publisher=publisher, clock=clock)  # type: ignore[arg-type]
    session = open_session(sessions, {"alpha.clj": "1"})
    event = success(session, "alpha.clj", WEIGHTS["alpha.clj"])
    with pytest.raises(TimeoutError):
        aggregator.handle_partial(event)
    assert len(publisher.events) == 1
    clock.advance(timedelta(minutes=3))
    assert aggregator.handle_partial(event).action is Action.REPUBLISHED
    assert len(publisher.events) == 1
    stored = sessions.get_session(session.session_id)
    assert stored is not None and stored.outcome_published
