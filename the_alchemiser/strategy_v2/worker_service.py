"""Strategy Worker: evaluate one strategy file as of the session's day and report to the aggregator.

Success or failure, the worker always publishes one `PartialSignalGenerated`, so the session never
waits on a strategy that cannot answer. It reports a failure by that event alone: the aggregator is the
only writer of the session table (docs/decisions.md); if the publish itself fails, the invocation fails
and Lambda retries it, and the session's deadline ends the workflow whatever happens.

With `live_quotes` (STRATEGY_LIVE_BAR, off by default) the strategy is evaluated on the completed bars
through the session's `as_of` plus the trading day's bar built from the latest quotes (dsl.md's live
mode); the signal still names `as_of`, the last completed bar, and its trace says "live-bar"."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePath

from the_alchemiser.shared.events import EventOrigin, EventPublisher, PartialSignalGenerated, PayloadStore
from the_alchemiser.shared.logging import get_logger, workflow_context
from the_alchemiser.shared.market_data import MarketDataPort, StaleMarketDataError
from the_alchemiser.shared.market_data.live import LiveBarMarketData, QuoteSource
from the_alchemiser.shared.schemas import StrategySignal, StrategyWorkerRequest
from the_alchemiser.strategy_v2.dsl import StrategyResult, evaluate_strategy, load_strategy

ORIGIN = EventOrigin("strategy_v2", "StrategyWorker")
# 12 decimal places: far below any tradable difference, far above float noise
WEIGHT_QUANTUM = Decimal("1e-12")
# the engine normalises to 1 in floats; anything further off is a bug, not rounding
FLOAT_SUM_TOLERANCE = 1e-6

# The summary travels in events and is stored in DynamoDB items (400 KB each, shared by every strategy of
# the session): bounded here; the full trace is in S3 by key.
SUMMARY_MAX_CHARS = 8_000
SUMMARY_LINE_MAX_CHARS = 400

log = get_logger(__name__)

MarketDataFactory = Callable[[], MarketDataPort]


class WorkerError(ValueError):
    """The request or the engine's answer cannot make a valid signal."""


def decimal_weights(weights: Mapping[str, float]) -> dict[str, Decimal]:
    """Float weights (sum 1 within float error) as Decimals summing to exactly 1.

    Each is quantised to 1e-12; the residual goes to the largest weight (ties: first symbol), so no
    weight moves by more than a few quanta and the total is exact."""
    if not weights:
        raise WorkerError("the strategy allocated to no symbol")
    for symbol, weight in weights.items():
        if not math.isfinite(weight) or weight < 0:
            raise WorkerError(f"invalid weight {weight!r} for {symbol}")
    total = math.fsum(weights.values())
    if abs(total - 1) > FLOAT_SUM_TOLERANCE:
        raise WorkerError(f"weights sum to {total!r}, not 1")
    quantised = {s: Decimal(repr(w)).quantize(WEIGHT_QUANTUM) for s, w in sorted(weights.items())}
    quantised = {s: w for s, w in quantised.items() if w > 0}
    if not quantised:
        raise WorkerError("every weight rounds to zero")
    largest = max(quantised, key=quantised.__getitem__)
    quantised[largest] += Decimal(1) - sum(quantised.values(), Decimal(0))
    return quantised


def bounded_summary(lines: list[str]) -> list[str]:
    """The trace summary cut to SUMMARY_MAX_CHARS in total, long lines shortened; says what was cut."""
    kept: list[str] = []
    used = 0
    for number, line in enumerate(lines):
        short = line if len(line) <= SUMMARY_LINE_MAX_CHARS else line[: SUMMARY_LINE_MAX_CHARS - 3] + "..."
        if used + len(short) > SUMMARY_MAX_CHARS:
            kept.append(f"... {len(lines) - number} more lines in the full trace")
            break
        kept.append(short)
        used += len(short)
    return kept


def trace_key(correlation_id: str, dsl_file: str) -> str:
    return f"traces/{correlation_id}/{dsl_file}.json"


@dataclass(frozen=True)
class WorkerOutcome:
    event: PartialSignalGenerated

    def as_dict(self) -> dict[str, object]:
        signal = self.event.signals_data
        return {
            "dsl_file": self.event.dsl_file,
            "success": self.event.success,
            "event_id": self.event.event_id,
            "error_message": self.event.error_message,
            "weights": {} if signal is None else {s: str(w) for s, w in signal.weights.items()},
        }


class StrategyWorker:
    def __init__(
        self,
        *,
        strategies_dir: Path,
        market_data: MarketDataFactory,
        publisher: EventPublisher,
        trace_store: PayloadStore | None,
        live_quotes: QuoteSource | None = None,
    ) -> None:
        self._strategies_dir = strategies_dir
        # a factory, called per request: a warm Lambda must never serve yesterday's cached bars
        self._market_data = market_data
        self._publisher = publisher
        self._trace_store = trace_store
        self._live_quotes = live_quotes

    def run(self, request: StrategyWorkerRequest) -> WorkerOutcome:
        with workflow_context(
            request.correlation_id, request.causation_id, session_id=request.session_id, dsl_file=request.dsl_file
        ):
            try:
                signal = self._evaluate(request)
            except Exception as exc:  # any failure must reach the aggregator, never leave it waiting
                log.exception("strategy evaluation failed", error_type=type(exc).__name__)
                return WorkerOutcome(self._report_failure(request, f"{type(exc).__name__}: {exc}"))
            event = PartialSignalGenerated(
                **self._base(request),
                success=True,
                signals_data=signal,
            )
            self._publisher.publish(event)
            log.info(
                "partial signal published",
                weights={s: str(w) for s, w in signal.weights.items()},
                allocation=str(signal.allocation),
                trace_s3_key=signal.trace_s3_key,
            )
            return WorkerOutcome(event)

    def _evaluate(self, request: StrategyWorkerRequest) -> StrategySignal:
        if PurePath(request.dsl_file).name != request.dsl_file:
            raise WorkerError(f"strategy file must be a bare file name, not {request.dsl_file!r}")
        if request.as_of >= request.trading_date:
            # the trading day's own bar is still forming when the worker runs: completed bars only
            raise WorkerError(
                f"as_of {request.as_of} is not a completed day before the trading date {request.trading_date}"
            )
        strategy = load_strategy(self._strategies_dir / request.dsl_file)
        if self._live_quotes is None:
            result = evaluate_strategy(strategy, self._market_data(), request.as_of)
            evaluated, expected = result.as_of, request.as_of
        else:
            live = LiveBarMarketData(self._market_data(), self._live_quotes, request.trading_date, request.as_of)
            result = dataclasses.replace(evaluate_strategy(strategy, live, request.trading_date), mode="live-bar")
            evaluated, expected = result.as_of, request.trading_date
        if evaluated != expected:
            raise StaleMarketDataError(
                f"market data for {strategy.name} ends on {evaluated}, the session needs {expected}"
            )
        weights = decimal_weights(result.weights)
        return StrategySignal(
            strategy=request.dsl_file,
            strategy_name=result.name,
            allocation=request.allocation,
            weights=weights,
            as_of=request.as_of,
            rebalance_threshold=None
            if result.rebalance_threshold is None
            else Decimal(repr(result.rebalance_threshold)),
            trace_summary=bounded_summary(
                ([f"live bar: {request.trading_date} from the latest quotes"] if result.mode == "live-bar" else [])
                + list(result.trace_summary)
            ),
            trace_s3_key=self._store_trace(request, result),
        )

    def _store_trace(self, request: StrategyWorkerRequest, result: StrategyResult) -> str | None:
        """The full trace goes to S3 by key; the event carries only the summary. An S3 hiccup loses the
        trace (logged), not the day's trading."""
        if self._trace_store is None:
            return None
        body = {
            **result.to_json(),
            "dsl_file": request.dsl_file,
            "allocation": str(request.allocation),
            "session_id": request.session_id,
            "correlation_id": request.correlation_id,
        }
        key = trace_key(request.correlation_id, request.dsl_file)
        try:
            return self._trace_store.put(key, json.dumps(body, default=str).encode())
        except Exception:
            log.exception("could not store the full trace", trace_key=key)
            return None

    def _report_failure(self, request: StrategyWorkerRequest, error_message: str) -> PartialSignalGenerated:
        event = PartialSignalGenerated(**self._base(request), success=False, error_message=error_message)
        self._publisher.publish(event)
        log.warning("strategy failure reported", error_message=error_message)
        return event

    @staticmethod
    def _base(request: StrategyWorkerRequest) -> dict[str, object]:
        return {
            **ORIGIN.of(request.correlation_id, request.causation_id),
            "session_id": request.session_id,
            "dsl_file": request.dsl_file,
            "strategy_number": request.strategy_number,
            "total_strategies": request.total_strategies,
        }
