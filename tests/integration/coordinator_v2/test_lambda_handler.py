"""The Strategy Orchestrator's `lambda_handler` as deployed: wiring from the environment (Settings, the
settings clock), moto Lambda/SQS/EventBridge, the sessions table on DynamoDB Local."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.fixtures.aws import unique_name
from tests.fixtures.coordinator_v2 import write_strategies
from tests.support.coordinator_v2.aws_rig import (  # noqa: F401  (lambda_env is a fixture)
    LambdaEnvironment,
    create_worker_function,
    lambda_env,
    record_invokes,
)
from the_alchemiser.coordinator_v2.lambda_handler import lambda_handler
from the_alchemiser.coordinator_v2.wiring import MissingConfiguration
from the_alchemiser.shared.events import WorkflowStarted
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.schemas import StrategyWorkerRequest
from the_alchemiser.shared.sessions import SessionDeadline, SessionStatus

SCHEDULE_INPUT = {"trigger": "schedule", "scheduled_time": "2026-11-20T20:30:00Z", "execution_id": "exec-1"}


@pytest.fixture
def orchestrator_env(lambda_env: LambdaEnvironment, tmp_path: Path) -> LambdaEnvironment:  # noqa: F811
    lambda_env.set(
        STAGE="local",
        STRATEGIES_DIR=str(write_strategies(tmp_path / "strategies")),
        STRATEGY_WORKER_FUNCTION_NAME=create_worker_function(),
        SESSION_DEADLINE_QUEUE_URL=lambda_env.deadline_queue_url,
        SESSION_DEADLINE_SECONDS="1",
        ALCHEMISER_LOCAL_CLOCK="2026-11-20T15:30:00-05:00",
    )
    return lambda_env


def test_the_scheduled_event_starts_one_workflow_and_its_deadline_fires_by_itself(
    orchestrator_env: LambdaEnvironment,
) -> None:
    invokes = record_invokes()
    result = lambda_handler(SCHEDULE_INPUT, None)

    assert result["status"] == "started" and result["trading_date"] == "2026-11-20"
    requests = [StrategyWorkerRequest.model_validate_json(call["Payload"]) for call in invokes]
    assert [call["InvocationType"] for call in invokes] == ["Event"] * 3
    assert [r.dsl_file for r in requests] == ["alpha.clj", "beta.clj", "gamma.clj"]
    assert {r.as_of for r in requests} == {date(2026, 11, 19)}
    [started] = orchestrator_env.bus.received()
    assert isinstance(started, WorkflowStarted)
    assert started.causation_id == "exec-1"  # the Scheduler's execution id is the cause
    assert started.session_id == result["session_id"]
    session = orchestrator_env.sessions.get_session(started.session_id)
    assert session is not None and session.status is SessionStatus.OPEN

    # the Scheduler retries (or fires twice): the day already has its workflow
    again = lambda_handler({**SCHEDULE_INPUT, "execution_id": "exec-2"}, None)
    assert again["status"] == "already_started" and again["correlation_id"] == result["correlation_id"]
    assert len(invokes) == 3 and orchestrator_env.bus.received() == []

    # nothing else happens, yet the deadline message arrives on its queue after SESSION_DEADLINE_SECONDS
    # (the retry scheduled one too, before finding the day taken: it names a session never written)
    deadlines: list[SessionDeadline] = []
    for _ in range(5):
        messages = orchestrator_env.deadline_messages(wait_seconds=2)
        deadlines += [SessionDeadline.model_validate_json(m["Body"]) for m in messages]
        if len(deadlines) == 2:
            break
    [deadline] = [d for d in deadlines if d.session_id == result["session_id"]]
    assert deadline.causation_id == started.event_id and deadline.correlation_id == result["correlation_id"]
    assert len(deadlines) == 2
    [orphan] = [d for d in deadlines if d.session_id != result["session_id"]]
    assert orchestrator_env.sessions.get_session(orphan.session_id) is None


RUN_TIME_GATE = [
    ("2026-11-20T15:30:00-05:00", "started"),  # regular day: 15:30 ET
    ("2026-11-20T12:30:00-05:00", "not_run_time"),  # the early-close slot on a regular day
    ("2026-11-27T12:30:00-05:00", "started"),  # day after Thanksgiving closes at 13:00
    ("2026-11-27T15:30:00-05:00", "not_run_time"),
    ("2026-11-26T15:30:00-05:00", "not_a_trading_day"),  # Thanksgiving
    ("2026-11-26T12:30:00-05:00", "not_a_trading_day"),
]


def test_the_run_time_gate_through_the_deployed_handler(orchestrator_env: LambdaEnvironment) -> None:
    invokes = record_invokes()
    for local_clock, status in RUN_TIME_GATE:
        orchestrator_env.set(ALCHEMISER_LOCAL_CLOCK=local_clock)  # a fresh process at that time
        before = len(invokes)
        assert lambda_handler(SCHEDULE_INPUT, None)["status"] == status, local_clock
        assert len(invokes) - before == (3 if status == "started" else 0), local_clock
        published = orchestrator_env.bus.received()
        assert [type(e) for e in published] == ([WorkflowStarted] if status == "started" else []), local_clock


def test_a_holiday_trigger_logs_why_it_does_nothing(orchestrator_env: LambdaEnvironment) -> None:
    orchestrator_env.set(ALCHEMISER_LOCAL_CLOCK="2026-11-26T15:30:00-05:00")
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)  # the handler's own configure_logging(level) keeps the stream
    try:
        result = lambda_handler(SCHEDULE_INPUT, None)
    finally:
        configure_logging("INFO", stream=sys.stdout)
    assert result["status"] == "not_a_trading_day"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [line] = [entry for entry in lines if entry["event"] == "market closed today: not running"]
    assert line["reason"] == "holiday_or_weekend" and line["level"] == "info"
    assert line["trading_date"] == "2026-11-26" and line["causation_id"] == "exec-1"
    assert line["component"] == "the_alchemiser.coordinator_v2.service"
    assert orchestrator_env.dynamodb.scan(TableName=orchestrator_env.sessions_table)["Items"] == []
    assert orchestrator_env.bus.received() == []


MALFORMED_EVENTS: list[Any] = [
    ["not", "an", "object"],
    "force",
    {"force": "yes"},  # force must be a JSON true
    {"force": 1},
    {"date": "2026-11-18"},  # a date without force
    {"force": True, "date": "2026-13-01"},
    {"force": True, "date": "tomorrow"},
    {"detail": {"force": True, "date": "18/11/2026"}},
]


def test_malformed_events_raise_so_they_reach_the_dead_letter_queue(orchestrator_env: LambdaEnvironment) -> None:
    invokes = record_invokes()
    for event in MALFORMED_EVENTS:
        with pytest.raises((ValidationError, ValueError)):
            lambda_handler(event, None)
    assert invokes == [] and orchestrator_env.bus.received() == []
    assert orchestrator_env.dynamodb.scan(TableName=orchestrator_env.sessions_table)["Items"] == []
    assert orchestrator_env.deadline_messages() == []


def test_missing_configuration_fails_loudly(orchestrator_env: LambdaEnvironment) -> None:
    orchestrator_env.monkeypatch.delenv("STRATEGY_WORKER_FUNCTION_NAME")
    orchestrator_env.set()
    with pytest.raises(MissingConfiguration, match="STRATEGY_WORKER_FUNCTION_NAME"):
        lambda_handler(SCHEDULE_INPUT, None)


def test_a_local_clock_without_a_time_zone_is_refused(orchestrator_env: LambdaEnvironment) -> None:
    orchestrator_env.set(ALCHEMISER_LOCAL_CLOCK="2026-11-20T15:30:00")
    with pytest.raises(ValueError, match="time zone"):
        lambda_handler(SCHEDULE_INPUT, None)


def test_a_forced_run_retried_by_lambda_starts_one_workflow_on_the_real_idempotency_table(
    orchestrator_env: LambdaEnvironment,
) -> None:
    """Lambda's async retry of `{"force": true, "id": ...}` after the first workflow ended: the trigger id's
    record (IdempotencyTable on DynamoDB Local) makes it a duplicate; a new id runs."""
    invokes = record_invokes()
    manual = {"force": True, "id": "manual-1"}
    first = lambda_handler(manual, None)
    assert first["status"] == "started"
    assert orchestrator_env.sessions.decide(
        first["session_id"], SessionStatus.FAILED, reason="test", outcome_event_json="{}", decided_at=datetime.now(UTC)
    )
    retried = lambda_handler(manual, None)
    assert retried["status"] == "duplicate_trigger" and retried["correlation_id"] == first["correlation_id"]
    assert len(invokes) == 3
    assert lambda_handler({"force": True, "id": "manual-2"}, None)["status"] == "started"
    assert len(invokes) == 6


def test_a_forced_run_waits_for_the_days_plan_in_the_real_ledger(orchestrator_env: LambdaEnvironment) -> None:
    """The deployed wiring reads execution's plan state from the trade ledger table (DynamoDB Local): a plan
    a delivery holds refuses a forced run, the same plan completed lets it start."""
    ledger_table = unique_name("ledger")
    create_ledger_table(orchestrator_env.dynamodb, ledger_table)
    orchestrator_env.set(TRADE_LEDGER__TABLE_NAME=ledger_table)
    record_invokes()
    scheduled = lambda_handler(SCHEDULE_INPUT, None)
    decided_at = datetime(2026, 11, 20, 20, 31, tzinfo=UTC)  # the local clock is 15:30 New York
    assert orchestrator_env.sessions.decide(
        scheduled["session_id"], SessionStatus.COMPLETED, reason="test", outcome_event_json="{}", decided_at=decided_at
    )
    ledger = DynamoTradeLedger(orchestrator_env.dynamodb, ledger_table)
    ledger.start_plan(scheduled["correlation_id"], "plan-1", "2026-11-20T20:31:05.000000Z")
    lease_until = datetime(2026, 11, 20, 21, 45, tzinfo=UTC).timestamp()  # an hour and more of resumes
    assert ledger.acquire_lease(scheduled["correlation_id"], "delivery-1", expires_at=lease_until, now=0.0) is None

    orchestrator_env.set(ALCHEMISER_LOCAL_CLOCK="2026-11-20T16:20:00-05:00")  # 49 minutes after the decision
    refused = lambda_handler({"force": True, "id": "manual-9"}, None)
    assert refused["status"] == "in_flight" and "still being worked" in refused["detail"]
    ledger.mark_completed(scheduled["correlation_id"])
    assert lambda_handler({"force": True, "id": "manual-9"}, None)["status"] == "started"
