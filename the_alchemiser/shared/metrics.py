"""The metrics port: what the services count and measure, kept out of their logic.

Services take a `Metrics` (default `NO_METRICS`) and call `put(name, value, unit)`; the Lambda wiring
gives them `PowertoolsMetrics`, which writes each value as one CloudWatch Embedded Metric Format line
(Powertools Metrics) to stdout, where Lambda's log agent turns it into a metric: no API call, no
permission, nothing lost when an invocation fails later. The namespace is the stack's own
(POWERTOOLS_METRICS_NAMESPACE, `alchemiser-<stage><suffix>` in template.yaml), so the alarms read one
stack's metrics without dimensions. Tests use `InMemoryMetrics`.

The names the system emits, and the alarms on them, are listed in METRIC_NAMES."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from the_alchemiser.shared.events import BaseEvent, WorkflowCompleted, WorkflowFailed
from the_alchemiser.shared.schemas import ExecutionResult, OrderOutcome

Unit = Literal["Count", "Seconds", "Milliseconds", "None"]

# name -> (unit, what it is)
METRIC_NAMES: dict[str, tuple[Unit, str]] = {
    "OrdersPlaced": ("Count", "orders submitted to the broker by an execution"),
    "OrdersFilled": ("Count", "orders that ended filled (wholly or partly)"),
    "OrdersFailed": ("Count", "plan items that ended failed or rejected (FailedOrdersAlarm)"),
    "SlippageBps": ("None", "per filled order: adverse slippage against the quote at placement, basis points"),
    "StrategyFailures": ("Count", "strategy files whose evaluation failed in a workflow"),
    "WorkflowDuration": ("Seconds", "from the day's run time to the workflow's outcome"),
    "WorkflowsCompleted": ("Count", "workflows that ended WorkflowCompleted"),
    "WorkflowsFailed": ("Count", "workflows that ended WorkflowFailed"),
    "MessagesRejected": ("Count", "messages a handler rejected as malformed or invalid (MessagesRejectedAlarm)"),
    "WorkflowNotStarted": ("Count", "1 when the start check found no workflow for the day (WorkflowNotStartedAlarm)"),
}
DEFAULT_NAMESPACE = "alchemiser"
# CloudWatch takes EMF timestamps from 14 days past to 2 hours ahead; an older simulated day keeps the wall clock
# CloudWatch skips an EMF timestamp more than 14 days past or 2 hours ahead of its clock (margins kept)
EMF_TIMESTAMP_PAST = timedelta(days=13)
EMF_TIMESTAMP_AHEAD = timedelta(hours=1, minutes=55)


class Metrics(Protocol):
    def put(self, name: str, value: float, unit: Unit = "Count") -> None: ...


class NoMetrics:
    """Counts nothing: the default of every service (local runs, tests that do not look)."""

    def put(self, name: str, value: float, unit: Unit = "Count") -> None:
        return None


NO_METRICS = NoMetrics()


@dataclass
class InMemoryMetrics:
    """Records every value, in order."""

    recorded: list[tuple[str, float, Unit]] = field(default_factory=list)

    def put(self, name: str, value: float, unit: Unit = "Count") -> None:
        self.recorded.append((name, value, unit))

    def values(self, name: str) -> list[float]:
        return [value for recorded, value, _ in self.recorded if recorded == name]


class PowertoolsMetrics:
    """Powertools Metrics (EMF): each value flushed at once as one JSON line on stdout."""

    def __init__(self, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.namespace = namespace

    def put(self, name: str, value: float, unit: Unit = "Count") -> None:
        from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

        from the_alchemiser.shared.logging import log_stream, log_trace_fields
        from the_alchemiser.shared.stamps import stamp_now

        metrics = EphemeralMetrics(namespace=self.namespace)  # its own state: nothing shared between puts
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=float(value))
        stamp = stamp_now()  # the log lines' clock (the local stack's simulated day)
        if -EMF_TIMESTAMP_PAST < stamp - datetime.now(UTC) < EMF_TIMESTAMP_AHEAD:  # else Powertools' (now)
            metrics.set_timestamp(stamp)
        # the log lines' workflow ids and Lambda context ride along as EMF properties (searchable, not
        # dimensions); where the log lines go: stdout in Lambda (CloudWatch Logs extracts the metric), the
        # local stack's log file locally (not its console)
        line = {**log_trace_fields(), **metrics.serialize_metric_set()}
        stream = log_stream()
        stream.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
        stream.flush()


# ---------------------------------------------------------------- what each service puts (pure)
Values = list[tuple[str, float, Unit]]


def execution_metrics(result: ExecutionResult) -> Values:
    """An execution's orders: placed, filled (wholly or partly), failed, and each filled order's slippage."""
    filled = [o for o in result.orders if o.outcome in (OrderOutcome.FILLED, OrderOutcome.PARTIALLY_FILLED)]
    failed = [o for o in result.orders if o.outcome is OrderOutcome.FAILED]
    values: Values = [
        ("OrdersPlaced", result.orders_placed, "Count"),
        ("OrdersFilled", len(filled), "Count"),
        ("OrdersFailed", len(failed), "Count"),
    ]
    values += [("SlippageBps", float(o.slippage_bps), "None") for o in filled if o.slippage_bps is not None]
    return values


def outcome_metrics(event: WorkflowCompleted | WorkflowFailed, run_time: datetime | None) -> Values:
    """A workflow's outcome, and its duration from the day's run time when the outcome came after it."""
    values: Values = [("WorkflowsCompleted" if isinstance(event, WorkflowCompleted) else "WorkflowsFailed", 1, "Count")]
    if run_time is not None and event.timestamp >= run_time:
        values.append(("WorkflowDuration", (event.timestamp - run_time).total_seconds(), "Seconds"))
    return values


def strategy_failures(event: BaseEvent) -> int:
    """Strategies an aggregation decision went without: failed evaluations and, at the deadline, the missing."""
    if isinstance(event, WorkflowFailed):
        failed = event.error_details.get("failed_strategies") or {}
        missing = event.error_details.get("missing_strategies") or []
        return len(failed) + len(missing)
    missing_names = event.metadata.get("missing_strategies", "")
    return len([name for name in missing_names.split(",") if name.strip()])


def put_all(metrics: Metrics, values: Values) -> None:
    for name, value, unit in values:
        metrics.put(name, value, unit)
