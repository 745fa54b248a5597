"""The start check: on a trading day whose run time has passed by 15 minutes, a workflow must have started.

The close alarm compares workflows started with workflows completed, so a day on which nothing started
(a disabled or broken schedule, an orchestrator failing before its first write) was silent. The
template's WorkflowStartCheck schedule invokes the orchestrator's function with `{"check":
"workflow-started"}` at 12:45 and 15:45 New York time; this check reads the trading calendar (holidays,
early closes) and the day's workflow lock in the sessions table, which the orchestrator writes before
anything else. No lock: an error line and WorkflowNotStarted = 1, which WorkflowNotStartedAlarm sends
to the alert topic; a lock: WorkflowNotStarted = 0. Not a trading day, or before run time + 15 minutes
(the 12:45 check on a regular day): nothing is put. A check that itself fails raises, which the
orchestrator's Errors alarm reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

from the_alchemiser.shared.calendar import NEW_YORK, Clock, NyseCalendar
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.metrics import Metrics

CHECK_NAME = "workflow-started"
GRACE = timedelta(minutes=15)
METRIC = "WorkflowNotStarted"

log = get_logger(__name__)


class WorkflowLocks(Protocol):
    """The day's workflow lock (the sessions table's `WORKFLOW#<stage>#<date>` item), read only."""

    def workflow_holder(self, stage: str, trading_date: date) -> Mapping[str, str] | None: ...


class StartCheckStatus(StrEnum):
    STARTED = "started"
    NOT_STARTED = "not_started"
    TOO_EARLY = "too_early"
    NOT_A_TRADING_DAY = "not_a_trading_day"


@dataclass(frozen=True)
class StartCheckOutcome:
    status: StartCheckStatus
    trading_date: date
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status.value, "trading_date": self.trading_date.isoformat(), "detail": self.detail}


def is_start_check(event: Any) -> bool:
    """The start check's scheduled event, as opposed to the orchestrator's trigger."""
    return isinstance(event, Mapping) and event.get("check") == CHECK_NAME


class WorkflowStartCheck:
    def __init__(
        self,
        *,
        locks: WorkflowLocks,
        clock: Clock,
        calendar: NyseCalendar,
        metrics: Metrics,
        stage: str,
        minutes_before_close: int = 30,
        grace: timedelta = GRACE,
    ) -> None:
        self._locks = locks
        self._clock = clock
        self._calendar = calendar
        self._metrics = metrics
        self._stage = stage
        self._minutes_before_close = minutes_before_close
        self._grace = grace

    def run(self) -> StartCheckOutcome:
        now = self._clock.now()
        today = now.astimezone(NEW_YORK).date()
        run_time = self._calendar.run_time(today, self._minutes_before_close)
        if run_time is None:
            return StartCheckOutcome(StartCheckStatus.NOT_A_TRADING_DAY, today, f"{today} is not a trading day")
        due = run_time + self._grace
        if now < due:
            detail = f"today's run is at {run_time.isoformat()}: checked from {due.isoformat()}"
            return StartCheckOutcome(StartCheckStatus.TOO_EARLY, today, detail)
        holder = self._locks.workflow_holder(self._stage, today)
        if holder is None:
            log.error(
                "workflow_not_started",
                stage=self._stage,
                trading_date=today.isoformat(),
                run_time=run_time.isoformat(),
                checked_at=now.isoformat(),
                reason="no workflow lock for the day: the schedule did not fire or the orchestrator failed first",
            )
            self._metrics.put(METRIC, 1)
            detail = f"no workflow started by {due.isoformat()} (run time {run_time.isoformat()})"
            return StartCheckOutcome(StartCheckStatus.NOT_STARTED, today, detail)
        self._metrics.put(METRIC, 0)
        log.info("workflow_started_check_passed", correlation_id=holder.get("correlation_id"))
        return StartCheckOutcome(StartCheckStatus.STARTED, today, f"workflow {holder.get('correlation_id')} started")


@lru_cache(maxsize=1)
def get_start_check() -> WorkflowStartCheck:
    """The check as deployed: the sessions table, the system clock, the NYSE calendar, EMF metrics."""
    import boto3

    from the_alchemiser.shared.calendar import nyse_calendar
    from the_alchemiser.shared.config.settings import get_settings
    from the_alchemiser.shared.logging import configure_logging
    from the_alchemiser.shared.metrics import PowertoolsMetrics
    from the_alchemiser.shared.sessions import AggregationSessionRepository

    settings = get_settings()
    configure_logging(settings.log_level)
    return WorkflowStartCheck(
        locks=AggregationSessionRepository(boto3.client("dynamodb"), settings.aggregation_sessions_table_name),
        clock=settings.clock(),
        calendar=nyse_calendar(),
        metrics=PowertoolsMetrics(settings.metrics_namespace),
        stage=settings.stage,
    )
