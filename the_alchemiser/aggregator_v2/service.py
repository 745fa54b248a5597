"""Signal Aggregator: fan-in of the strategy workers' partials into one SignalGenerated per session.

Every decision is one conditional transition of the session (OPEN -> COMPLETED or FAILED), and the
event it publishes is stored with the decision. Whoever wins the transition publishes; everyone else
(redeliveries, concurrent arrivals, the deadline) changes nothing. If the winner crashed between
deciding and publishing, a later delivery republishes the stored event (same event id) once the
publisher's grace period has passed. The publish itself goes through the shared exactly-once helper
(shared/once.py, key: the session id), so a winner that published and died before marking it, or one
merely slower than the grace period, is never published a second time (a republish that finds the first
publish still in progress raises, and its delivery is retried later)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from the_alchemiser.shared.calendar import Clock
from the_alchemiser.shared.events import (
    BaseEvent,
    EventOrigin,
    EventPublisher,
    PartialSignalGenerated,
    SignalGenerated,
    WorkflowFailed,
    parse_event,
)
from the_alchemiser.shared.logging import get_logger, workflow_context
from the_alchemiser.shared.metrics import NO_METRICS, Metrics, strategy_failures
from the_alchemiser.shared.once import OncePerKey
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, StrategySignal
from the_alchemiser.shared.sessions import (
    AggregationSession,
    PartialResult,
    SessionDeadline,
    SessionStatus,
    SessionStore,
)

ORIGIN = EventOrigin("aggregator_v2", "SignalAggregator")
# the shared exactly-once helper's record prefix for the outcome publish (never change it)
ONCE_KEY_PREFIX = "aggregator_v2.outcome"

log = get_logger(__name__)


def outcome_key(session_id: str) -> str:
    return f"session#{session_id}"


class DeadlinePolicy(StrEnum):
    """What a session still open at its deadline becomes (SESSION_DEADLINE_POLICY)."""

    NO_TRADE = "no_trade"  # default: WorkflowFailed naming the missing strategies; nothing trades
    MERGE_AVAILABLE = "merge_available"  # trade the strategies that answered, allocations rescaled to 1


class UnknownSessionError(LookupError):
    """A partial for a session that was never created: a wiring bug, not something to swallow."""


class Action(StrEnum):
    STORED = "stored"  # partial stored, still waiting for others
    DUPLICATE = "duplicate"  # partial already stored: nothing changed
    COMPLETED = "completed"  # this call published SignalGenerated
    FAILED = "failed"  # this call published WorkflowFailed
    ALREADY_DECIDED = "already_decided"  # session was over: nothing changed
    REPUBLISHED = "republished"  # a decided but unpublished outcome was published now
    IGNORED = "ignored"  # not part of this session (wrong correlation or strategy)


@dataclass(frozen=True)
class AggregationOutcome:
    action: Action
    session_id: str
    status: SessionStatus | None
    detail: str = ""
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.action.value,
            "session_id": self.session_id,
            "status": None if self.status is None else self.status.value,
            "detail": self.detail,
            "missing": self.missing,
        }


@dataclass(frozen=True)
class AggregatorConfig:
    deadline_policy: DeadlinePolicy = DeadlinePolicy.NO_TRADE
    # a decided outcome still unpublished after this long means its publisher died: republish it
    republish_grace: timedelta = timedelta(minutes=2)


class SignalAggregator:
    def __init__(
        self,
        *,
        sessions: SessionStore,
        publisher: EventPublisher,
        once: OncePerKey,
        clock: Clock,
        config: AggregatorConfig | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._sessions = sessions
        self._once = once
        self._publisher = publisher
        self._clock = clock
        self._config = config or AggregatorConfig()
        self._metrics = metrics

    # -- entry points --------------------------------------------------------------------------

    def handle_partial(self, event: PartialSignalGenerated) -> AggregationOutcome:
        with workflow_context(
            event.correlation_id, event.event_id, session_id=event.session_id, dsl_file=event.dsl_file
        ):
            session = self._sessions.get_session(event.session_id)
            if session is None:
                raise UnknownSessionError(f"no aggregation session {event.session_id} (from {event.dsl_file})")
            if event.correlation_id != session.correlation_id or event.dsl_file not in session.allocations:
                log.error(
                    "partial does not belong to this session: ignored",
                    session_correlation_id=session.correlation_id,
                    expected=session.strategies,
                )
                return AggregationOutcome(Action.IGNORED, session.session_id, session.status, "not this session's")
            if session.status is not SessionStatus.OPEN:
                return self._already_decided(session, "partial")
            stored = self._sessions.record_partial(session.session_id, self._partial_from(event, session))
            log.info(
                "partial stored" if stored else "partial already stored: redelivery changes nothing",
                success=event.success,
            )
            # settle even on a duplicate: an earlier delivery may have died between storing and deciding
            decided = self._settle(session, cause=event.event_id)
            if decided is not None:
                return decided
            return AggregationOutcome(
                Action.STORED if stored else Action.DUPLICATE,
                session.session_id,
                SessionStatus.OPEN,
                missing=self._missing(session, self._sessions.partials(session.session_id)),
            )

    def handle_deadline(self, message: SessionDeadline) -> AggregationOutcome:
        with workflow_context(message.correlation_id, message.causation_id, session_id=message.session_id):
            session = self._sessions.get_session(message.session_id)
            if session is None:
                # the orchestrator schedules the deadline before it writes the session: a trigger that found
                # the day already started, or whose write failed (and was retried), leaves such a message
                log.warning("deadline for a session that was never created: nothing to end")
                return AggregationOutcome(Action.IGNORED, message.session_id, None, "session never created")
            if session.status is not SessionStatus.OPEN:
                return self._already_decided(session, "deadline")
            decided = self._settle(session, cause=session.causation_id)
            if decided is not None:
                return decided
            return self._end_at_deadline(session)

    # -- deciding ------------------------------------------------------------------------------

    def _settle(self, session: AggregationSession, cause: str) -> AggregationOutcome | None:
        """Decide if the partials allow it: any failure ends the session now; all successes complete it."""
        partials = self._sessions.partials(session.session_id)
        failed = {f: p for f, p in partials.items() if f in session.allocations and not p.success}
        if failed:
            return self._fail_strategies(session, failed, cause)
        missing = self._missing(session, partials)
        if missing:
            log.info("waiting for strategies", missing=missing, received=len(session.allocations) - len(missing))
            return None
        signals = [self._signal_of(partials[f]) for f in session.strategies]
        return self._complete(session, signals, cause, metadata={})

    def _end_at_deadline(self, session: AggregationSession) -> AggregationOutcome:
        partials = self._sessions.partials(session.session_id)
        missing = self._missing(session, partials)
        log.warning(
            "session deadline passed with strategies missing",
            missing=missing,
            policy=self._config.deadline_policy.value,
        )
        if self._config.deadline_policy is DeadlinePolicy.MERGE_AVAILABLE:
            answered = [self._signal_of(partials[f]) for f in session.strategies if f in partials]
            if answered:
                return self._complete(
                    session,
                    _rescaled(answered),
                    session.causation_id,
                    metadata={"deadline_policy": "merge_available", "missing_strategies": ",".join(missing)},
                )
        failed = WorkflowFailed(
            **ORIGIN.of(session.correlation_id, session.causation_id),
            failure_reason=(
                f"session deadline {session.deadline.isoformat()} passed without "
                f"{len(missing)} of {len(session.allocations)} strategies: {', '.join(missing)}; no trading"
            ),
            failure_step="aggregation",
            error_details={
                "missing_strategies": missing,
                "received_strategies": [f for f in session.strategies if f in partials],
                "deadline": session.deadline.isoformat(),
                "deadline_policy": self._config.deadline_policy.value,
                "session_id": session.session_id,
            },
            trading_date=session.trading_date,
        )
        return self._decide(session, SessionStatus.FAILED, failed, missing=missing)

    def _fail_strategies(
        self, session: AggregationSession, failed: dict[str, PartialResult], cause: str
    ) -> AggregationOutcome:
        errors = {f: p.error_message or "no error message" for f, p in sorted(failed.items())}
        event = WorkflowFailed(
            **ORIGIN.of(session.correlation_id, cause),
            failure_reason="strategy evaluation failed: "
            + "; ".join(f"{f}: {message}" for f, message in errors.items())
            + "; no trading",
            failure_step="strategy",
            error_details={"failed_strategies": errors, "session_id": session.session_id},
            trading_date=session.trading_date,
        )
        return self._decide(session, SessionStatus.FAILED, event)

    def _complete(
        self, session: AggregationSession, signals: list[StrategySignal], cause: str, metadata: dict[str, str]
    ) -> AggregationOutcome:
        try:
            portfolio = ConsolidatedPortfolio.merge(signals)
        except ValueError as exc:
            log.exception("merge failed")
            failed = WorkflowFailed(
                **ORIGIN.of(session.correlation_id, cause),
                failure_reason=f"merging the strategies' signals failed: {exc}; no trading",
                failure_step="aggregation",
                error_details={"error_type": type(exc).__name__, "session_id": session.session_id},
                trading_date=session.trading_date,
            )
            return self._decide(session, SessionStatus.FAILED, failed)
        event = SignalGenerated(
            **ORIGIN.of(session.correlation_id, cause),
            session_id=session.session_id,
            signals_data=signals,
            consolidated_portfolio=portfolio,
            signal_count=len(signals),
            metadata=metadata,
        )
        return self._decide(session, SessionStatus.COMPLETED, event)

    def _decide(
        self, session: AggregationSession, status: SessionStatus, event: BaseEvent, missing: list[str] | None = None
    ) -> AggregationOutcome:
        reason = event.failure_reason if isinstance(event, WorkflowFailed) else f"{event.event_type} {event.event_id}"
        won = self._sessions.decide(
            session.session_id,
            status,
            reason=reason,
            outcome_event_json=event.model_dump_json(),
            decided_at=self._clock.now(),
        )
        if not won:
            log.info("session decided concurrently by another delivery: nothing to do")
            current = self._sessions.get_session(session.session_id)
            return AggregationOutcome(
                Action.ALREADY_DECIDED, session.session_id, current.status if current else None, "decided concurrently"
            )
        self._publish_outcome(session.session_id, event)
        self._metrics.put("StrategyFailures", strategy_failures(event))  # once: this delivery won the decision
        action = Action.COMPLETED if status is SessionStatus.COMPLETED else Action.FAILED
        return AggregationOutcome(action, session.session_id, status, reason, missing or [])

    def _publish_outcome(self, session_id: str, event: BaseEvent) -> None:
        def publish() -> dict[str, str]:
            self._publisher.publish(event)
            return {"event_type": event.event_type, "event_id": event.event_id}

        result = self._once.run(outcome_key(session_id), publish)
        self._sessions.mark_outcome_published(session_id)
        if result.replayed:
            log.info("session outcome was already published: marked, not published again", **result.value)
        else:
            log.info("session outcome published", outcome=event.event_type, outcome_event_id=event.event_id)

    def _already_decided(self, session: AggregationSession, what: str) -> AggregationOutcome:
        """Late or redelivered input after the decision: never a second outcome, but repair a lost publish."""
        stuck = (
            not session.outcome_published
            and session.outcome_event_json is not None
            and session.decided_at is not None
            and self._clock.now() - session.decided_at >= self._config.republish_grace
        )
        if stuck and session.outcome_event_json is not None:
            log.warning("decided outcome was never published: republishing the stored event")
            self._publish_outcome(session.session_id, parse_event(session.outcome_event_json))
            return AggregationOutcome(Action.REPUBLISHED, session.session_id, session.status)
        log.info(f"session already {session.status.value.lower()}: {what} changes nothing")
        return AggregationOutcome(Action.ALREADY_DECIDED, session.session_id, session.status)

    # -- helpers -------------------------------------------------------------------------------

    def _partial_from(self, event: PartialSignalGenerated, session: AggregationSession) -> PartialResult:
        """What to store; a 'success' inconsistent with the session is stored as a failure (loud, no trade)."""
        problem = _inconsistency(event, session)
        if problem:
            log.error("partial inconsistent with its session: treated as a failed strategy", problem=problem)
        return PartialResult(
            dsl_file=event.dsl_file,
            success=event.success and problem is None,
            signal=event.signals_data if problem is None else None,
            error_message=problem or event.error_message,
            event_id=event.event_id,
            received_at=self._clock.now(),
        )

    @staticmethod
    def _signal_of(partial: PartialResult) -> StrategySignal:
        if partial.signal is None:  # guarded when stored: success implies a signal
            raise ValueError(f"{partial.dsl_file}: successful partial without a signal")
        return partial.signal

    @staticmethod
    def _missing(session: AggregationSession, partials: dict[str, PartialResult]) -> list[str]:
        return [f for f in session.strategies if f not in partials]


def _inconsistency(event: PartialSignalGenerated, session: AggregationSession) -> str | None:
    if not event.success:
        return None
    signal = event.signals_data
    if signal is None:
        return "success reported without signals_data"
    if signal.strategy != event.dsl_file:
        return f"signal is for {signal.strategy}, event for {event.dsl_file}"
    expected = session.allocations[event.dsl_file]
    if signal.allocation != expected:
        return f"allocation {signal.allocation} differs from the session's {expected}"
    if signal.as_of != session.as_of:
        return f"evaluated as of {signal.as_of}, the session needs {session.as_of}"
    if not signal.weights:
        return "no weights"
    return None


def _rescaled(signals: list[StrategySignal]) -> list[StrategySignal]:
    """Allocations of the strategies that answered, rescaled to sum to 1 (last one takes the residual)."""
    total = sum((s.allocation for s in signals), Decimal(0))
    scaled = [s.allocation / total for s in signals]
    scaled[-1] = Decimal(1) - sum(scaled[:-1], Decimal(0))
    return [
        StrategySignal.model_validate({**s.model_dump(), "allocation": allocation})
        for s, allocation in zip(signals, scaled, strict=True)
    ]
