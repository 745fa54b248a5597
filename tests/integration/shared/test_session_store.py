"""The SessionStore contract, held by the DynamoDB adapter (on the real DynamoDB Local) and by the in-memory
one the unit tests use (tests/fixtures/sessions.py): the same calls, the same answers."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.fixtures.aws import unique_name
from tests.fixtures.sessions import MemorySessionStore
from the_alchemiser.shared.sessions import (
    AggregationSession,
    AggregationSessionRepository,
    OutcomeNotDecidedError,
    PartialResult,
    SessionExistsError,
    SessionStatus,
    SessionStore,
    create_sessions_table,
)
from the_alchemiser.shared.sessions.ports import SessionStore as PortSessionStore

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)


@pytest.fixture(params=[pytest.param("dynamodb_local", marks=pytest.mark.dynamodb_local), "memory"])
def store(request: pytest.FixtureRequest) -> SessionStore:
    if request.param == "memory":
        return MemorySessionStore()
    client = request.getfixturevalue("dynamodb_local_client")
    table = unique_name("sessions")
    create_sessions_table(client, table)
    return AggregationSessionRepository(client, table)


def session(day: date = DAY, allocations: dict[str, str] | None = None) -> AggregationSession:
    return AggregationSession(
        session_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()),
        stage="test",
        trading_date=day,
        as_of=day - timedelta(days=1),
        allocations={f: Decimal(a) for f, a in (allocations or {"a.clj": "0.5", "b.clj": "0.5"}).items()},
        deadline=NOW + timedelta(minutes=10),
        created_at=NOW,
    )


def partial(dsl_file: str, success: bool = True, event_id: str = "e1") -> PartialResult:
    return PartialResult(
        dsl_file=dsl_file,
        success=success,
        error_message=None if success else "boom",
        event_id=event_id,
        received_at=NOW,
    )


def test_both_adapters_are_the_port() -> None:
    assert SessionStore is PortSessionStore
    for adapter in (MemorySessionStore(), AggregationSessionRepository(object(), "t")):
        assert all(callable(getattr(adapter, name)) for name in PortSessionStore.__dict__ if not name.startswith("_"))


def test_the_days_lock_is_taken_once_and_swapped_only_from_the_holder(store: SessionStore) -> None:
    first, second, third = session(), session(), session()
    assert store.workflow_holder("test", DAY) is None
    assert store.start_workflow(first)
    assert store.workflow_holder("test", DAY) == {
        "session_id": first.session_id,
        "correlation_id": first.correlation_id,
        "claimed_at": NOW.isoformat(),
    }
    assert not store.start_workflow(second)
    assert not store.start_workflow(second, force=True)  # forced, yet naming no holder: refused
    assert not store.start_workflow(second, force=True, replacing="someone-else")
    assert store.get_session(second.session_id) is None  # a lost lock leaves no session
    assert store.start_workflow(second, force=True, replacing=first.session_id)
    holder = store.workflow_holder("test", DAY)
    assert holder is not None and holder["session_id"] == second.session_id
    assert not store.start_workflow(third, force=True, replacing=first.session_id)  # first is no longer the holder
    with pytest.raises(SessionExistsError):
        store.start_workflow(second, force=True, replacing=second.session_id)
    assert store.start_workflow(session(day=DAY + timedelta(days=3)))  # another day, its own lock


def test_racing_starts_have_one_winner(store: SessionStore) -> None:
    contenders = [session() for _ in range(4)]
    barrier = threading.Barrier(len(contenders))
    won: list[AggregationSession] = []

    def start(s: AggregationSession) -> None:
        barrier.wait()
        if store.start_workflow(s):
            won.append(s)

    threads = [threading.Thread(target=start, args=(s,)) for s in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [winner] = won
    assert [store.get_session(s.session_id) is not None for s in contenders] == [s is winner for s in contenders]


def test_a_session_is_created_once_and_read_back_whole(store: SessionStore) -> None:
    s = session()
    assert store.get_session(s.session_id) is None
    store.create_session(s)
    assert store.get_session(s.session_id) == s
    with pytest.raises(SessionExistsError):
        store.create_session(s)


def test_the_decision_is_taken_once_and_its_outcome_marked_published(store: SessionStore) -> None:
    s = session()
    store.create_session(s)
    with pytest.raises(OutcomeNotDecidedError):
        store.mark_outcome_published(s.session_id)
    with pytest.raises(ValueError, match="ends the session"):
        store.decide(s.session_id, SessionStatus.OPEN, reason="r", outcome_event_json="{}", decided_at=NOW)
    assert store.decide(
        s.session_id, SessionStatus.COMPLETED, reason="done", outcome_event_json='{"a": 1}', decided_at=NOW
    )
    assert not store.decide(s.session_id, SessionStatus.FAILED, reason="late", outcome_event_json="{}", decided_at=NOW)
    decided = store.get_session(s.session_id)
    assert decided is not None
    assert (decided.status, decided.outcome_reason, decided.outcome_event_json) == (
        SessionStatus.COMPLETED,
        "done",
        '{"a": 1}',
    )
    assert decided.decided_at == NOW and not decided.outcome_published
    store.mark_outcome_published(s.session_id)
    store.mark_outcome_published(s.session_id)  # marking again changes nothing
    published = store.get_session(s.session_id)
    assert published is not None and published.outcome_published
    assert not store.decide("never-created", SessionStatus.FAILED, reason="r", outcome_event_json="{}", decided_at=NOW)


def test_a_partial_is_stored_once_per_strategy(store: SessionStore) -> None:
    s = session()
    store.create_session(s)
    assert store.partials(s.session_id) == {}
    assert store.record_partial(s.session_id, partial("a.clj", event_id="first"))
    assert not store.record_partial(s.session_id, partial("a.clj", success=False, event_id="second"))
    assert store.record_partial(s.session_id, partial("b.clj", success=False))
    stored = store.partials(s.session_id)
    assert set(stored) == {"a.clj", "b.clj"}
    assert stored["a.clj"].event_id == "first" and stored["a.clj"].success  # the first one stands
    assert not stored["b.clj"].success and stored["b.clj"].error_message == "boom"
    assert store.partials("another-session") == {}
