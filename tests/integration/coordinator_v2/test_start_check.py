"""Issue 14 finding 6: a trading day on which no workflow has started by the run time + 15 minutes alarms.

The close alarm needs "started > completed", so a day on which nothing started (a disabled schedule, an
orchestrator failing before its first publish) was silent. The start check runs at 12:45 and 15:45 New
York time; on a trading day whose run time (+15 min) has passed with no workflow lock for the day it logs
an error and puts WorkflowNotStarted = 1 (the WorkflowNotStartedAlarm's metric); holidays, weekends and
the check before a regular day's run time put nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.aws import unique_name
from tests.fixtures.coordinator_v2 import STAGE, OrchestratorRig, build_rig, write_strategies
from the_alchemiser.coordinator_v2.start_check import StartCheckStatus, WorkflowStartCheck, is_start_check
from the_alchemiser.coordinator_v2.trigger import OrchestratorTrigger
from the_alchemiser.shared.calendar import NEW_YORK, FixedClock, nyse_calendar
from the_alchemiser.shared.metrics import InMemoryMetrics
from the_alchemiser.shared.sessions.repository import AggregationSessionRepository, create_sessions_table

REGULAR = date(2026, 11, 20)  # Friday, 16:00 close, run 15:30
EARLY_CLOSE = date(2026, 11, 27)  # the day after Thanksgiving, 13:00 close, run 12:30
HOLIDAY = date(2026, 11, 26)  # Thanksgiving
SATURDAY = date(2026, 11, 21)


def ny(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


class Locks:
    """The sessions table's workflow locks, in memory: (stage, date) -> holder."""

    def __init__(self, held: set[tuple[str, date]] = frozenset()) -> None:  # type: ignore[assignment]
        self.held = set(held)
        self.asked: list[tuple[str, date]] = []

    def workflow_holder(self, stage: str, trading_date: date) -> Mapping[str, str] | None:
        self.asked.append((stage, trading_date))
        return (
            {"session_id": "s", "correlation_id": "c", "claimed_at": "t"}
            if (stage, trading_date) in self.held
            else None
        )


def check(now: datetime, locks: Locks, metrics: InMemoryMetrics) -> Any:
    return WorkflowStartCheck(
        locks=locks, clock=FixedClock(now), calendar=nyse_calendar(), metrics=metrics, stage=STAGE
    ).run()


@pytest.mark.parametrize(
    ("now", "held", "status", "metric"),
    [
        (ny(REGULAR, 15, 45), False, StartCheckStatus.NOT_STARTED, 1),
        (ny(REGULAR, 15, 45), True, StartCheckStatus.STARTED, 0),
        (ny(REGULAR, 15, 44), False, StartCheckStatus.TOO_EARLY, None),  # run time + 15 min not yet passed
        (ny(REGULAR, 12, 45), False, StartCheckStatus.TOO_EARLY, None),  # the early-close check on a regular day
        (ny(EARLY_CLOSE, 12, 45), False, StartCheckStatus.NOT_STARTED, 1),  # early close: run 12:30
        (ny(EARLY_CLOSE, 12, 45), True, StartCheckStatus.STARTED, 0),
        (ny(EARLY_CLOSE, 15, 45), False, StartCheckStatus.NOT_STARTED, 1),  # still none by the later check
        (ny(HOLIDAY, 15, 45), False, StartCheckStatus.NOT_A_TRADING_DAY, None),
        (ny(HOLIDAY, 12, 45), False, StartCheckStatus.NOT_A_TRADING_DAY, None),
        (ny(SATURDAY, 15, 45), False, StartCheckStatus.NOT_A_TRADING_DAY, None),
    ],
)
def test_the_check_alarms_exactly_on_a_trading_day_without_a_workflow(
    now: datetime, held: bool, status: StartCheckStatus, metric: int | None
) -> None:
    locks = Locks({(STAGE, now.date())} if held else set())
    metrics = InMemoryMetrics()
    outcome = check(now, locks, metrics)
    assert outcome.status is status
    assert outcome.trading_date == now.date()
    if metric is None:
        assert metrics.values("WorkflowNotStarted") == []
    else:
        assert metrics.values("WorkflowNotStarted") == [metric]
        assert locks.asked == [(STAGE, now.date())]


def test_a_missing_workflow_is_logged_at_error(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from the_alchemiser.shared.logging import configure_logging

    configure_logging("INFO", stream=__import__("sys").stdout)
    check(ny(REGULAR, 15, 45), Locks(), InMemoryMetrics())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (line,) = [line for line in lines if line.get("event") == "workflow_not_started"]
    assert line["level"] == "error"
    assert line["trading_date"] == REGULAR.isoformat() and line["stage"] == STAGE
    assert "15:30" in line["run_time"]


def test_the_check_event_is_told_apart_from_the_orchestrators_trigger() -> None:
    assert is_start_check({"check": "workflow-started", "scheduled_time": "2026-11-20T20:45:00Z"})
    assert not is_start_check({"trigger": "schedule", "scheduled_time": "2026-11-20T20:30:00Z"})
    assert not is_start_check(None)
    assert not is_start_check({"force": True})


def test_against_the_orchestrators_real_lock_in_dynamodb_local(
    moto_aws: None, dynamodb_local_client: Any, tmp_path: Path
) -> None:
    """The orchestrator's own lock, written in DynamoDB Local at 15:30, is what the 15:45 check reads."""
    table = unique_name("sessions")
    create_sessions_table(dynamodb_local_client, table)
    rig: OrchestratorRig = build_rig(
        write_strategies(tmp_path / "strategies"),
        sessions=AggregationSessionRepository(dynamodb_local_client, table),
    )
    metrics = InMemoryMetrics()
    at_check = rig.clock.now() + timedelta(minutes=15)
    before = WorkflowStartCheck(
        locks=rig.sessions, clock=FixedClock(at_check), calendar=nyse_calendar(), metrics=metrics, stage=STAGE
    ).run()
    assert before.status is StartCheckStatus.NOT_STARTED
    assert rig.orchestrator.run(OrchestratorTrigger(trigger_id="schedule-1")).status.value == "started"
    after = WorkflowStartCheck(
        locks=rig.sessions, clock=FixedClock(at_check), calendar=nyse_calendar(), metrics=metrics, stage=STAGE
    ).run()
    assert after.status is StartCheckStatus.STARTED
    assert metrics.values("WorkflowNotStarted") == [1, 0]


def test_the_orchestrator_handler_runs_the_check_for_its_event(monkeypatch: pytest.MonkeyPatch) -> None:
    from the_alchemiser.coordinator_v2 import lambda_handler as handler_module
    from the_alchemiser.coordinator_v2 import start_check

    metrics = InMemoryMetrics()
    built = WorkflowStartCheck(
        locks=Locks(), clock=FixedClock(ny(REGULAR, 15, 45)), calendar=nyse_calendar(), metrics=metrics, stage=STAGE
    )
    monkeypatch.setattr(start_check, "get_start_check", lambda: built)
    monkeypatch.setattr(handler_module, "get_orchestrator", lambda: pytest.fail("the check is not a workflow trigger"))
    result = handler_module.lambda_handler(
        {"check": "workflow-started", "scheduled_time": "2026-11-20T20:45:00Z"}, None
    )
    assert result["status"] == "not_started" and metrics.values("WorkflowNotStarted") == [1]
