"""Strategy Orchestrator: once per trading day, 30 minutes before the close, fan out one worker per strategy.

A forced run (an operator's `{"force": true, "id": ...}`) may start a second workflow on a day, but:
- once per trigger id: the start goes through the shared exactly-once helper (shared/once.py, key
  `<stage>#<trigger id>`), so Lambda's async retry of the same event starts nothing (DUPLICATE_TRIGGER);
- never over a workflow in flight: refused (IN_FLIGHT, and not recorded, so the same id may be sent again
  later) while the day's session is OPEN, or COMPLETED and its plan may still trade: execution's plan state
  (the ledger, read only) says it is not completed and a delivery held it less than `plan_idle_limit` ago,
  or execution has not started it and the decision is less than `forced_run_quiet_period` old. A FAILED
  session traded nothing and is no obstacle. The lock is then taken over only if it still names the session
  found finished, so two forced runs at once start one workflow."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from the_alchemiser.coordinator_v2.allocations import AllocationConfigError, load_allocations
from the_alchemiser.coordinator_v2.ports import MAX_SQS_DELAY_SECONDS, DeadlineScheduler, WorkerInvoker
from the_alchemiser.coordinator_v2.trigger import OrchestratorTrigger
from the_alchemiser.shared.calendar import NEW_YORK, Clock, NyseCalendar
from the_alchemiser.shared.events import EventOrigin, EventPublisher, WorkflowFailed, WorkflowStarted
from the_alchemiser.shared.ledger.plan_state import PlanProgressReader
from the_alchemiser.shared.logging import get_logger, workflow_context
from the_alchemiser.shared.once import OncePerKey
from the_alchemiser.shared.schemas import StrategyWorkerRequest
from the_alchemiser.shared.sessions import (
    AggregationSession,
    SessionDeadline,
    SessionStatus,
    SessionStore,
)

ORIGIN = EventOrigin("coordinator_v2", "StrategyOrchestrator")
# the shared exactly-once helper's record prefix for forced runs (never change it)
FORCED_RUN_KEY_PREFIX = "coordinator_v2.forced"

log = get_logger(__name__)


class OrchestrationStatus(StrEnum):
    STARTED = "started"
    NOT_A_TRADING_DAY = "not_a_trading_day"
    NOT_RUN_TIME = "not_run_time"
    ALREADY_STARTED = "already_started"
    IN_FLIGHT = "in_flight"  # a forced run refused: the day's workflow may still be trading
    DUPLICATE_TRIGGER = "duplicate_trigger"  # a forced run's trigger id already ran
    FAILED = "failed"


@dataclass(frozen=True)
class OrchestrationOutcome:
    status: OrchestrationStatus
    trading_date: date
    detail: str
    correlation_id: str | None = None
    session_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "status": self.status.value,
            "trading_date": self.trading_date.isoformat(),
            "detail": self.detail,
            "correlation_id": self.correlation_id,
            "session_id": self.session_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrchestrationOutcome:
        return cls(
            status=OrchestrationStatus(data["status"]),
            trading_date=date.fromisoformat(data["trading_date"]),
            detail=data["detail"],
            correlation_id=data.get("correlation_id"),
            session_id=data.get("session_id"),
        )


@dataclass(frozen=True)
class OrchestratorConfig:
    stage: str
    strategies_dir: Path
    deadline: timedelta = timedelta(minutes=10)
    minutes_before_close: int = 30
    # the schedule fires on the minute; accept a little early, never at or after the close
    run_tolerance: timedelta = timedelta(minutes=5)
    # a COMPLETED decision whose plan execution has not started: how long its plan may still be on the way
    # (portfolio, then the first of ExecutionQueue's 3 receives x 900 s visibility); a forced run waits it out
    forced_run_quiet_period: timedelta = timedelta(minutes=45)
    # a started plan not completed: how long after its last lease ended it may still be picked up again
    # (ExecutionQueue's 900 s VisibilityTimeout, a resume's or retry's delay, and a margin); then it is dead
    plan_idle_limit: timedelta = timedelta(minutes=20)

    def __post_init__(self) -> None:
        if not timedelta(seconds=1) <= self.deadline <= timedelta(seconds=MAX_SQS_DELAY_SECONDS):
            raise ValueError(
                f"session deadline must be 1..{MAX_SQS_DELAY_SECONDS} s (an SQS delay), not {self.deadline}"
            )


class StrategyOrchestrator:
    def __init__(
        self,
        *,
        sessions: SessionStore,
        plans: PlanProgressReader,
        once: OncePerKey,
        invoker: WorkerInvoker,
        deadlines: DeadlineScheduler,
        publisher: EventPublisher,
        clock: Clock,
        calendar: NyseCalendar,
        config: OrchestratorConfig,
    ) -> None:
        self._sessions = sessions
        self._plans = plans
        self._once = once
        self._invoker = invoker
        self._deadlines = deadlines
        self._publisher = publisher
        self._clock = clock
        self._calendar = calendar
        self._config = config

    def run(self, trigger: OrchestratorTrigger, lambda_context: Any | None = None) -> OrchestrationOutcome:
        now = self._clock.now()
        trading_date = trigger.date or now.astimezone(NEW_YORK).date()
        with workflow_context(None, trigger.trigger_id, stage=self._config.stage, trading_date=str(trading_date)):
            skip = self._skip_reason(trigger, now, trading_date)
            if skip is not None:
                return skip
            if not trigger.force:
                return self._start_new(trigger, now, trading_date, replacing=None)
            refused, replacing = self._in_flight(now, trading_date)
            if refused is not None:
                return refused
            self._once.register_lambda_context(lambda_context)  # a crashed attempt's record expires with it
            result = self._once.run(
                f"{self._config.stage}#{trigger.trigger_id}",
                lambda: self._start_new(trigger, now, trading_date, replacing=replacing).as_dict(),
            )
            outcome = OrchestrationOutcome.from_dict(result.value)
            if not result.replayed:
                return outcome
            log.info("forced run already handled: nothing to do", first_outcome=outcome.status.value)
            return OrchestrationOutcome(
                OrchestrationStatus.DUPLICATE_TRIGGER,
                trading_date,
                f"forced run {trigger.trigger_id} was already handled ({outcome.status.value}: {outcome.detail})",
                outcome.correlation_id,
                outcome.session_id,
            )

    def _start_new(
        self, trigger: OrchestratorTrigger, now: datetime, trading_date: date, replacing: str | None
    ) -> OrchestrationOutcome:
        correlation_id = str(uuid.uuid4())
        with workflow_context(correlation_id, trigger.trigger_id, stage=self._config.stage):
            return self._start(trigger, now, trading_date, correlation_id, replacing)

    def _in_flight(self, now: datetime, trading_date: date) -> tuple[OrchestrationOutcome | None, str | None]:
        """For a forced run: a refusal while the day's workflow may still trade, else the session it replaces."""
        holder = self._sessions.workflow_holder(self._config.stage, trading_date)
        if holder is None:
            return None, None
        session = self._sessions.get_session(holder["session_id"])
        if session is None:  # a lock is never written without its session; the conditional swap still guards
            return None, holder["session_id"]
        if session.status is SessionStatus.FAILED:
            return None, session.session_id
        if session.status is SessionStatus.OPEN:
            reason: str | None = "its session is still open"
        else:
            reason = self._plan_may_trade(now, session.correlation_id, session.decided_at or session.created_at)
            if reason is None:
                return None, session.session_id
        detail = f"forced run refused: the {self._config.stage} {trading_date} workflow is in flight ({reason})"
        log.warning(
            "forced run refused: a workflow is in flight",
            holder_session_id=session.session_id,
            holder_correlation_id=session.correlation_id,
            holder_status=session.status.value,
        )
        return (
            OrchestrationOutcome(
                OrchestrationStatus.IN_FLIGHT, trading_date, detail, session.correlation_id, session.session_id
            ),
            None,
        )

    def _plan_may_trade(self, now: datetime, correlation_id: str, decided_at: datetime) -> str | None:
        """Why a COMPLETED workflow's plan may still trade, or None when nothing will trade it any more."""
        progress = self._plans.plan_progress(correlation_id)
        if progress is None:
            on_its_way_until = decided_at + self._config.forced_run_quiet_period
            if now < on_its_way_until:
                return f"its plan may reach execution until {on_its_way_until.isoformat()}"
            return None
        if progress.completed:
            return None
        last_worked = progress.worked_until or progress.started_at
        idle_from = last_worked + self._config.plan_idle_limit
        if now < idle_from:
            return f"its plan is still being worked (last lease until {last_worked.isoformat()})"
        log.warning(
            "a started plan was never completed and nothing has worked it since its last lease",
            correlation_id=correlation_id,
            last_worked=last_worked.isoformat(),
        )
        return None

    def _skip_reason(
        self, trigger: OrchestratorTrigger, now: datetime, trading_date: date
    ) -> OrchestrationOutcome | None:
        session = self._calendar.session(trading_date)
        if session is None:
            detail = f"{trading_date} is not a trading day (market holiday or weekend): no workflow"
            log.info("market closed today: not running", reason="holiday_or_weekend", forced=trigger.force)
            return OrchestrationOutcome(OrchestrationStatus.NOT_A_TRADING_DAY, trading_date, detail)
        if trigger.force:
            return None
        run_time = session.close - timedelta(minutes=self._config.minutes_before_close)
        if not run_time - self._config.run_tolerance <= now < session.close:
            detail = f"not the run time: today's run is at {run_time.isoformat()} (close {session.close.isoformat()})"
            log.info(
                "not the run time: not running",
                now=now.isoformat(),
                run_time=run_time.isoformat(),
                close=session.close.isoformat(),
                early_close=session.early_close,
            )
            return OrchestrationOutcome(OrchestrationStatus.NOT_RUN_TIME, trading_date, detail)
        return None

    def _start(
        self,
        trigger: OrchestratorTrigger,
        now: datetime,
        trading_date: date,
        correlation_id: str,
        replacing: str | None = None,
    ) -> OrchestrationOutcome:
        stage = self._config.stage
        try:
            allocations = load_allocations(self._config.strategies_dir, stage)
        except AllocationConfigError as exc:
            log.error("strategy configuration invalid: not running", error=str(exc))
            self._publish_failure(correlation_id, trigger.trigger_id, trading_date, str(exc), type(exc).__name__)
            return OrchestrationOutcome(OrchestrationStatus.FAILED, trading_date, str(exc), correlation_id)

        session_id = str(uuid.uuid4())
        deadline = now + self._config.deadline
        as_of = self._calendar.previous_trading_day(trading_date)  # completed bars only
        started = WorkflowStarted(
            **ORIGIN.of(correlation_id, trigger.trigger_id),
            trading_date=trading_date,
            stage=stage,
            session_id=session_id,
            strategies=allocations,
            deadline=deadline,
            forced=trigger.force,
        )
        session = AggregationSession(
            session_id=session_id,
            correlation_id=correlation_id,
            causation_id=started.event_id,
            stage=stage,
            trading_date=trading_date,
            as_of=as_of,
            allocations=allocations,
            deadline=deadline,
            created_at=now,
        )
        # The deadline is scheduled before anything is claimed: whatever happens after this line (a crash,
        # a timeout), a session that exists always has its deadline coming. If the session is never
        # created (the day is already taken, or the write fails and the trigger is retried), the message
        # later finds no session and ends nothing.
        self._deadlines.schedule(
            SessionDeadline(
                session_id=session_id,
                correlation_id=correlation_id,
                causation_id=started.event_id,
                deadline=deadline,
            ),
            delay_seconds=min(MAX_SQS_DELAY_SECONDS, math.ceil(self._config.deadline.total_seconds())),
        )
        # lock and session in one transaction; anything but "already taken" raises, so the trigger is retried
        if not self._sessions.start_workflow(session, force=trigger.force, replacing=replacing):
            holder = self._sessions.workflow_holder(stage, trading_date) or {}
            log.info("workflow already started for this trading day: nothing to do", holder=holder)
            detail = f"workflow for {stage} {trading_date} already started (correlation {holder.get('correlation_id')})"
            return OrchestrationOutcome(
                OrchestrationStatus.ALREADY_STARTED,
                trading_date,
                detail,
                holder.get("correlation_id"),
                holder.get("session_id"),
            )

        try:
            self._publisher.publish(started)
            self._fan_out(session, started, allocations)
        except Exception as exc:
            # the day's lock is taken, so a retry would be a no-op: end the workflow loudly instead
            log.exception("fan-out failed: ending the workflow")
            self._fail_session(session, started, exc)
            return OrchestrationOutcome(OrchestrationStatus.FAILED, trading_date, str(exc), correlation_id, session_id)
        log.info(
            "workflow started",
            session_id=session_id,
            strategies=list(allocations),
            as_of=as_of.isoformat(),
            deadline=deadline.isoformat(),
            forced=trigger.force,
        )
        return OrchestrationOutcome(
            OrchestrationStatus.STARTED,
            trading_date,
            f"{len(allocations)} strategy workers invoked",
            correlation_id,
            session_id,
        )

    def _fan_out(self, session: AggregationSession, started: WorkflowStarted, allocations: dict[str, Decimal]) -> None:
        total = len(allocations)
        for number, (dsl_file, allocation) in enumerate(allocations.items(), start=1):
            self._invoker.invoke(
                StrategyWorkerRequest(
                    session_id=session.session_id,
                    correlation_id=session.correlation_id,
                    causation_id=started.event_id,
                    dsl_file=dsl_file,
                    strategy_number=number,
                    total_strategies=total,
                    allocation=allocation,
                    as_of=session.as_of,
                    trading_date=session.trading_date,
                    stage=session.stage,
                )
            )
            log.info("strategy worker invoked", dsl_file=dsl_file, strategy_number=number, allocation=str(allocation))

    def _fail_session(self, session: AggregationSession, started: WorkflowStarted, exc: Exception) -> None:
        failed = self._failure_event(
            session.correlation_id,
            started.event_id,
            session.trading_date,
            f"orchestrator fan-out failed: {exc}",
            type(exc).__name__,
        )
        try:
            decided = self._sessions.decide(
                session.session_id,
                SessionStatus.FAILED,
                reason=failed.failure_reason,
                outcome_event_json=failed.model_dump_json(),
                decided_at=self._clock.now(),
            )
        except Exception:
            log.exception("could not mark the session failed")
            decided = True  # the session may not exist: still tell the operators
        if decided:
            self._publisher.publish(failed)
            try:
                self._sessions.mark_outcome_published(session.session_id)
            except Exception:
                log.warning("could not mark the failure published", session_id=session.session_id)

    def _publish_failure(
        self, correlation_id: str, causation_id: str, trading_date: date, reason: str, error_type: str
    ) -> None:
        self._publisher.publish(self._failure_event(correlation_id, causation_id, trading_date, reason, error_type))

    def _failure_event(
        self, correlation_id: str, causation_id: str, trading_date: date, reason: str, error_type: str
    ) -> WorkflowFailed:
        return WorkflowFailed(
            **ORIGIN.of(correlation_id, causation_id),
            failure_reason=reason,
            failure_step="orchestrator",
            error_details={"error_type": error_type, "stage": self._config.stage},
            trading_date=trading_date,
        )
