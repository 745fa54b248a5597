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
from typing import Literal, Protocol

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
    "WorkflowNotStarted": ("Count", "1 when the start check found no workflow for the day (WorkflowNotStartedAlarm)"),
}
DEFAULT_NAMESPACE = "alchemiser"


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

        from the_alchemiser.shared.logging import log_stream

        metrics = EphemeralMetrics(namespace=self.namespace)  # its own state: nothing shared between puts
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=float(value))
        # where the log lines go: stdout in Lambda (CloudWatch Logs extracts the metric), the local
        # stack's log file locally (not its console)
        stream = log_stream()
        stream.write(json.dumps(metrics.serialize_metric_set(), separators=(",", ":")) + "\n")
        stream.flush()
