"""Strategy Orchestrator: calendar gating, one workflow per day, session + deadline + fan-out (moto Lambda/SQS)."""

from __future__ import annotations

import io
import json
import sys
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.aws import unique_name
from tests.fixtures.coordinator_v2 import (
    REGULAR_DAY,
    STAGE,
    WORKER_FUNCTION,
    OrchestratorRig,
    build_rig,
    write_strategies,
)
from tests.fixtures.idempotency import MemoryOnce
from the_alchemiser.aggregator_v2.service import Action, SignalAggregator
from the_alchemiser.coordinator_v2.allocations import AllocationConfigError, load_allocations
from the_alchemiser.coordinator_v2.lambda_handler import handle
from the_alchemiser.coordinator_v2.ports import WorkerInvokeError, WorkerInvoker
from the_alchemiser.coordinator_v2.service import OrchestrationStatus
from the_alchemiser.coordinator_v2.trigger import OrchestratorTrigger
from the_alchemiser.shared.calendar import NEW_YORK, nyse_calendar
from the_alchemiser.shared.events import WorkflowFailed, WorkflowStarted
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.schemas import StrategyWorkerRequest
from the_alchemiser.shared.sessions import (
    AggregationSession,
    AggregationSessionRepository,
    SessionDeadline,
    SessionExistsError,
    SessionStatus,
    SessionStore,
    create_sessions_table,
    workflow_lock_key,
)

THANKSGIVING = date(2026, 11, 26)
BLACK_FRIDAY = date(2026, 11, 27)  # closes 13:00


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=NEW_YORK).astimezone(UTC)


def worker_requests(rig: OrchestratorRig) -> list[StrategyWorkerRequest]:
    return [StrategyWorkerRequest.model_validate_json(call["Payload"]) for call in rig.invokes]


def test_at_the_run_time_it_creates_the_session_schedules_the_deadline_and_invokes_one_worker_per_file(
    rig: OrchestratorRig,
) -> None:
    outcome = rig.orchestrator.run(OrchestratorTrigger(trigger_id="schedule-1"))

    assert outcome.status is OrchestrationStatus.STARTED
    assert outcome.trading_date == REGULAR_DAY
    assert [call["InvocationType"] for call in rig.invokes] == ["Event"] * 3
    assert {call["FunctionName"] for call in rig.invokes} == {WORKER_FUNCTION}
    requests = worker_requests(rig)
    assert [(r.dsl_file, r.allocation, r.strategy_number, r.total_strategies) for r in requests] == [
        ("alpha.clj", Decimal("0.5"), 1, 3),
        ("beta.clj", Decimal("0.3"), 2, 3),
        ("gamma.clj", Decimal("0.2"), 3, 3),
    ]
    [started] = rig.publisher.events
    assert isinstance(started, WorkflowStarted)
    assert started.causation_id == "schedule-1"
    assert started.trading_date == REGULAR_DAY and started.stage == STAGE
    assert started.strategies == {"alpha.clj": Decimal("0.5"), "beta.clj": Decimal("0.3"), "gamma.clj": Decimal("0.2")}
    for request in requests:
        assert request.session_id == outcome.session_id == started.session_id
        assert request.correlation_id == outcome.correlation_id == started.correlation_id
        assert request.causation_id == started.event_id
        assert request.trading_date == REGULAR_DAY
        assert request.as_of == date(2026, 11, 19)  # completed bars: the previous trading day
        assert request.stage == STAGE

    session = rig.sessions.get_session(started.session_id)
    assert session is not None
    assert session.status is SessionStatus.OPEN
    assert session.strategies == ["alpha.clj", "beta.clj", "gamma.clj"]
    assert session.deadline == rig.clock.now() + timedelta(minutes=10) == started.deadline
    assert session.causation_id == started.event_id

    # the deadline message is on the queue, delayed by the deadline (moto hides it until then)
    queue = rig.sqs.get_queue_attributes(QueueUrl=rig.queue_url, AttributeNames=["All"])["Attributes"]
    assert queue["ApproximateNumberOfMessagesDelayed"] == "1"
    assert rig.deadline_messages() == []


def test_a_second_trigger_on_the_same_trading_day_is_a_no_op(rig: OrchestratorRig) -> None:
    first = rig.orchestrator.run(OrchestratorTrigger())
    rig.clock.advance(timedelta(minutes=1))
    second = rig.orchestrator.run(OrchestratorTrigger())

    assert second.status is OrchestrationStatus.ALREADY_STARTED
    assert second.correlation_id == first.correlation_id and second.session_id == first.session_id
    assert len(rig.invokes) == 3
    assert len(rig.publisher.events) == 1


def test_a_forced_trigger_runs_again_on_the_same_day(rig: OrchestratorRig) -> None:
    first = rig.orchestrator.run(OrchestratorTrigger())
    assert first.session_id is not None  # its workflow failed: nothing in flight (test_forced_runs.py: the rules)
    rig.sessions.decide(
        first.session_id, SessionStatus.FAILED, reason="test", outcome_event_json="{}", decided_at=rig.clock.now()
    )
    forced = rig.orchestrator.run(OrchestratorTrigger(force=True))
    assert forced.status is OrchestrationStatus.STARTED
    assert forced.correlation_id != first.correlation_id
    assert len(rig.invokes) == 6
    started = [e for e in rig.publisher.events if isinstance(e, WorkflowStarted)]
    assert [e.forced for e in started] == [False, True]
    # the lock now names the forced run, so another scheduled trigger is still a no-op
    assert rig.orchestrator.run(OrchestratorTrigger()).status is OrchestrationStatus.ALREADY_STARTED
    holder = rig.sessions.workflow_holder(STAGE, REGULAR_DAY)
    assert holder is not None and holder["correlation_id"] == forced.correlation_id


def test_a_forced_run_for_a_given_date_at_any_time(rig: OrchestratorRig) -> None:
    rig.clock.current = at(date(2026, 11, 22), 9, 0)  # a Sunday
    outcome = handle({"force": True, "date": "2026-11-18"}, rig.orchestrator)
    assert outcome["status"] == "started" and outcome["trading_date"] == "2026-11-18"
    assert {r.as_of for r in worker_requests(rig)} == {date(2026, 11, 17)}


def test_a_holiday_trigger_does_nothing_and_says_so_in_the_log(rig: OrchestratorRig) -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        rig.clock.current = at(THANKSGIVING, 15, 30)
        outcome = rig.orchestrator.run(OrchestratorTrigger(trigger_id="schedule-thanksgiving"))
        forced = rig.orchestrator.run(OrchestratorTrigger(force=True, date=THANKSGIVING))
    finally:
        configure_logging("INFO", stream=sys.stdout)

    assert outcome.status is OrchestrationStatus.NOT_A_TRADING_DAY
    assert forced.status is OrchestrationStatus.NOT_A_TRADING_DAY  # never on holidays, not even forced
    assert "not a trading day" in outcome.detail
    assert rig.invokes == [] and rig.publisher.events == []
    assert rig.sessions.is_empty()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [line, _] = [entry for entry in lines if entry.get("reason") == "holiday_or_weekend"]
    assert line["event"] == "market closed today: not running"
    assert line["trading_date"] == "2026-11-26"
    assert line["causation_id"] == "schedule-thanksgiving"


def test_a_weekend_trigger_does_nothing(rig: OrchestratorRig) -> None:
    rig.clock.current = at(date(2026, 11, 21), 15, 30)
    assert rig.orchestrator.run(OrchestratorTrigger()).status is OrchestrationStatus.NOT_A_TRADING_DAY
    assert rig.invokes == []


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(REGULAR_DAY, 12, 30), OrchestrationStatus.NOT_RUN_TIME),  # the early-close slot on a regular day
        (at(REGULAR_DAY, 15, 24), OrchestrationStatus.NOT_RUN_TIME),
        (at(REGULAR_DAY, 15, 25), OrchestrationStatus.STARTED),  # tolerance: a little early is fine
        (at(REGULAR_DAY, 15, 59), OrchestrationStatus.STARTED),
        (at(REGULAR_DAY, 16, 0), OrchestrationStatus.NOT_RUN_TIME),  # never at or after the close
        (at(BLACK_FRIDAY, 12, 30), OrchestrationStatus.STARTED),  # early close at 13:00
        (at(BLACK_FRIDAY, 15, 30), OrchestrationStatus.NOT_RUN_TIME),  # market already closed
    ],
)
def test_it_runs_only_thirty_minutes_before_the_days_close(
    rig: OrchestratorRig, now: datetime, expected: OrchestrationStatus
) -> None:
    rig.clock.current = now
    assert rig.orchestrator.run(OrchestratorTrigger()).status is expected
    assert len(rig.invokes) == (3 if expected is OrchestrationStatus.STARTED else 0)


def test_the_early_close_day_as_of_is_the_previous_trading_day(rig: OrchestratorRig) -> None:
    rig.clock.current = at(BLACK_FRIDAY, 12, 30)
    rig.orchestrator.run(OrchestratorTrigger())
    assert {r.as_of for r in worker_requests(rig)} == {date(2026, 11, 25)}  # Thanksgiving skipped


def test_invalid_allocations_end_the_workflow_with_an_orchestrator_failure(
    rig: OrchestratorRig, tmp_path: Path
) -> None:
    write_strategies(rig.strategies_dir, '[local]\n"alpha.clj" = 0.5\n"beta.clj" = 0.4\n')
    outcome = rig.orchestrator.run(OrchestratorTrigger())
    assert outcome.status is OrchestrationStatus.FAILED
    [failed] = rig.publisher.events
    assert isinstance(failed, WorkflowFailed)
    assert failed.failure_step == "orchestrator" and "sum to 0.9" in failed.failure_reason
    assert rig.invokes == []
    # nothing was locked: fixing the file and re-triggering works
    write_strategies(rig.strategies_dir)
    assert rig.orchestrator.run(OrchestratorTrigger()).status is OrchestrationStatus.STARTED


class ThrottledAfterFirst:
    """The real Lambda invoker, but Lambda throttles from the second invoke on (TooManyRequestsException)."""

    def __init__(self, inner: WorkerInvoker) -> None:
        self.inner = inner
        self.calls = 0

    def invoke(self, request: StrategyWorkerRequest) -> None:
        self.calls += 1
        if self.calls > 1:
            raise WorkerInvokeError(f"Rate exceeded invoking {request.dsl_file}")
        self.inner.invoke(request)


def test_a_worker_that_cannot_be_invoked_ends_the_workflow_loudly(rig: OrchestratorRig) -> None:
    rig.orchestrator._invoker = ThrottledAfterFirst(rig.orchestrator._invoker)
    outcome = rig.orchestrator.run(OrchestratorTrigger())
    assert outcome.status is OrchestrationStatus.FAILED
    started, failed = rig.publisher.events
    assert isinstance(started, WorkflowStarted) and isinstance(failed, WorkflowFailed)
    assert failed.failure_step == "orchestrator" and failed.correlation_id == started.correlation_id
    assert failed.causation_id == started.event_id and "Rate exceeded" in failed.failure_reason
    assert len(rig.invokes) == 1
    session = rig.sessions.get_session(started.session_id)
    assert session is not None and session.status is SessionStatus.FAILED and session.outcome_published
    # the lock stays: a retry of the same trigger does not start a second workflow
    assert rig.orchestrator.run(OrchestratorTrigger()).status is OrchestrationStatus.ALREADY_STARTED


def test_the_deadline_message_arrives_by_itself_after_the_delay(moto_aws: None, tmp_path: Path) -> None:
    rig = build_rig(write_strategies(tmp_path / "s"), deadline=timedelta(seconds=1))
    outcome = rig.orchestrator.run(OrchestratorTrigger())
    assert rig.deadline_messages() == []  # not before the delay
    messages = rig.deadline_messages(wait_seconds=5)
    [message] = messages
    deadline = SessionDeadline.model_validate_json(message["Body"])
    assert deadline.session_id == outcome.session_id and deadline.correlation_id == outcome.correlation_id


def test_allocations_toml_per_stage(tmp_path: Path) -> None:
    folder = write_strategies(tmp_path)
    assert load_allocations(folder, "prod") == {"alpha.clj": Decimal("1.0")}
    with pytest.raises(AllocationConfigError, match=r"no \[dev\] table"):
        load_allocations(folder, "dev")
    write_strategies(folder, '[local]\n"missing.clj" = 1\n')
    with pytest.raises(AllocationConfigError, match="no such file"):
        load_allocations(folder, "local")
    write_strategies(folder, '[local]\n"../alpha.clj" = 1\n')
    with pytest.raises(AllocationConfigError, match=r"expected a \.clj file name"):
        load_allocations(folder, "local")


def test_the_projects_own_allocations_are_valid_for_every_stage() -> None:
    from the_alchemiser.shared.config.settings import Settings

    folder = Settings().strategies_path
    for stage in ("dev", "prod", "ephemeral", "local"):
        allocations = load_allocations(folder, stage)
        assert sum(allocations.values()) == 1


def test_trigger_parsing() -> None:
    assert OrchestratorTrigger.from_event({}).force is False
    scheduled = OrchestratorTrigger.from_event({"id": "abc", "detail-type": "Scheduled Event", "detail": {}})
    assert scheduled.trigger_id == "abc" and not scheduled.force
    manual = OrchestratorTrigger.from_event({"force": True, "date": "2026-11-18"})
    assert manual.force and manual.date == date(2026, 11, 18)
    with pytest.raises(ValueError, match="only be given with force"):
        OrchestratorTrigger.from_event({"date": "2026-11-18"})


def test_lock_key_layout() -> None:
    assert workflow_lock_key("prod", REGULAR_DAY) == "WORKFLOW#prod#2026-11-20"
    assert nyse_calendar().is_early_close(BLACK_FRIDAY)


class ThrottledOnce:
    """The real repository, but DynamoDB throttles the first start_workflow (the transaction is not applied)."""

    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        self.throttled = False

    def start_workflow(self, session: AggregationSession, *, force: bool = False, replacing: str | None = None) -> bool:
        if not self.throttled:
            self.throttled = True
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                "TransactWriteItems",
            )
        return self.inner.start_workflow(session, force=force, replacing=replacing)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_failed_session_write_raises_leaves_nothing_locked_and_the_retry_starts_the_day(
    moto_aws: None, tmp_path: Path
) -> None:
    rig = build_rig(write_strategies(tmp_path / "s"), deadline=timedelta(seconds=1))
    rig.orchestrator._sessions = ThrottledOnce(rig.sessions)  # type: ignore[assignment]
    with pytest.raises(ClientError, match="slow down"):
        rig.orchestrator.run(OrchestratorTrigger(trigger_id="schedule-1"))  # Lambda retries the trigger
    assert rig.invokes == [] and rig.publisher.events == []
    assert rig.sessions.is_empty()

    retried = rig.orchestrator.run(OrchestratorTrigger(trigger_id="schedule-1"))
    assert retried.status is OrchestrationStatus.STARTED and len(rig.invokes) == 3

    # both attempts scheduled a deadline; the one for the session never written ends nothing
    aggregator = SignalAggregator(once=MemoryOnce(), sessions=rig.sessions, publisher=rig.publisher, clock=rig.clock)
    messages = rig.deadline_messages(wait_seconds=5)
    while len(messages) < 2:
        messages += rig.deadline_messages(wait_seconds=2)
    outcomes = {
        d.session_id: aggregator.handle_deadline(d).action
        for d in (SessionDeadline.model_validate_json(m["Body"]) for m in messages)
    }
    assert sorted(outcomes.values()) == [Action.FAILED, Action.IGNORED]
    assert outcomes[retried.session_id or ""] is Action.FAILED  # no worker answered in this test
    [failed] = [e for e in rig.publisher.events if isinstance(e, WorkflowFailed)]
    assert failed.correlation_id == retried.correlation_id


class LambdaKilled(BaseException):
    """The process dies mid-invocation (timeout, out of memory): no except clause runs."""


def test_a_crash_right_after_the_session_is_written_still_ends_the_day_at_the_deadline(
    moto_aws: None, tmp_path: Path
) -> None:
    rig = build_rig(write_strategies(tmp_path / "s"), deadline=timedelta(seconds=1))

    class DiesOnSecondInvoke:
        def __init__(self, inner: WorkerInvoker) -> None:
            self.inner, self.calls = inner, 0

        def invoke(self, request: StrategyWorkerRequest) -> None:
            self.calls += 1
            if self.calls == 2:
                raise LambdaKilled
            self.inner.invoke(request)

    rig.orchestrator._invoker = DiesOnSecondInvoke(rig.orchestrator._invoker)
    with pytest.raises(LambdaKilled):
        rig.orchestrator.run(OrchestratorTrigger(trigger_id="schedule-1"))
    # the async retry of the trigger finds the day taken: a no-op, so only the deadline can end it
    assert rig.orchestrator.run(OrchestratorTrigger(trigger_id="schedule-1")).status is (
        OrchestrationStatus.ALREADY_STARTED
    )
    [started] = [e for e in rig.publisher.events if isinstance(e, WorkflowStarted)]

    aggregator = SignalAggregator(once=MemoryOnce(), sessions=rig.sessions, publisher=rig.publisher, clock=rig.clock)
    deadlines = [SessionDeadline.model_validate_json(m["Body"]) for m in rig.deadline_messages(wait_seconds=5)]
    while len(deadlines) < 2:  # the retry scheduled one too, for a session it never wrote
        deadlines += [SessionDeadline.model_validate_json(m["Body"]) for m in rig.deadline_messages(wait_seconds=2)]
    actions = {d.session_id: aggregator.handle_deadline(d) for d in deadlines}
    ended = actions[started.session_id]
    assert ended.action is Action.FAILED and ended.missing == ["alpha.clj", "beta.clj", "gamma.clj"]
    [failed] = [e for e in rig.publisher.events if isinstance(e, WorkflowFailed)]
    assert failed.correlation_id == started.correlation_id
    assert failed.error_details["missing_strategies"] == ["alpha.clj", "beta.clj", "gamma.clj"]


def test_concurrent_triggers_start_exactly_one_workflow(rig: OrchestratorRig) -> None:
    barrier = threading.Barrier(4)
    results: list[OrchestrationStatus] = []

    def trigger() -> None:
        barrier.wait()
        results.append(rig.orchestrator.run(OrchestratorTrigger()).status)

    threads = [threading.Thread(target=trigger) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted([OrchestrationStatus.STARTED] + [OrchestrationStatus.ALREADY_STARTED] * 3)
    assert len(rig.invokes) == 3
    assert len([e for e in rig.publisher.events if isinstance(e, WorkflowStarted)]) == 1


@pytest.mark.dynamodb_local
def test_the_lock_and_the_session_are_written_together_or_not_at_all(
    dynamodb_local_client: Any,
) -> None:
    """The DynamoDB adapter's transaction (the other orchestrator tests use the in-memory SessionStore)."""
    table = unique_name("sessions")
    create_sessions_table(dynamodb_local_client, table)
    repo = AggregationSessionRepository(dynamodb_local_client, table)

    def session_for(day: date) -> AggregationSession:
        now = at(day, 15, 30)
        return AggregationSession(
            session_id=str(uuid.uuid4()),
            correlation_id=str(uuid.uuid4()),
            causation_id=str(uuid.uuid4()),
            stage=STAGE,
            trading_date=day,
            as_of=day - timedelta(days=1),
            allocations={"alpha.clj": Decimal(1)},
            deadline=now + timedelta(minutes=10),
            created_at=now,
        )

    days = [date(2026, 11, d) for d in (16, 17, 18, 19, 20)]
    for day in days:  # racing writers per day: one wins, the losers leave no session behind
        contenders = [session_for(day) for _ in range(4)]
        won: list[AggregationSession] = []
        barrier = threading.Barrier(len(contenders))

        def write(
            s: AggregationSession, barrier: threading.Barrier = barrier, won: list[AggregationSession] = won
        ) -> None:
            barrier.wait()
            if repo.start_workflow(s):
                won.append(s)

        threads = [threading.Thread(target=write, args=(s,)) for s in contenders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        [winner] = won
        assert repo.workflow_holder(STAGE, day) == {
            "session_id": winner.session_id,
            "correlation_id": winner.correlation_id,
            "claimed_at": winner.created_at.isoformat(),
        }
        assert [repo.get_session(s.session_id) is not None for s in contenders] == [s is winner for s in contenders]

    forced = session_for(days[0])
    first = repo.workflow_holder(STAGE, days[0])
    assert first is not None
    assert not repo.start_workflow(forced, force=True)  # a rerun must name the session it replaces
    assert not repo.start_workflow(forced, force=True, replacing="another-session")
    assert repo.get_session(forced.session_id) is None
    assert repo.start_workflow(forced, force=True, replacing=first["session_id"])  # an operator's rerun takes over
    holder = repo.workflow_holder(STAGE, days[0])
    assert holder is not None and holder["session_id"] == forced.session_id
    with pytest.raises(SessionExistsError):  # the same session twice is a bug, not a rerun
        repo.start_workflow(forced, force=True, replacing=forced.session_id)
    items = dynamodb_local_client.scan(TableName=table)["Items"]
    assert sorted(i["sk"]["S"] for i in items) == ["LOCK"] * 5 + ["META"] * 6
