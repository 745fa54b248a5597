"""Portfolio Lambda: EventBridge `SignalGenerated` -> one RebalancePlanned (or WorkflowFailed) per workflow.

Thin: parse the event (a malformed one raises EventParseError and goes to the DLQ, never to a plan),
bind the workflow ids to the logs, call the idempotent service, return its outcome."""

from __future__ import annotations

from typing import Any

from the_alchemiser.portfolio_v2.service import parse_signal_event
from the_alchemiser.portfolio_v2.wiring import PortfolioRuntime, get_runtime
from the_alchemiser.shared.logging import with_lambda_context, workflow_context
from the_alchemiser.shared.rejections import message_id_of, rejecting


def handle(event: dict[str, Any], context: Any, runtime: PortfolioRuntime) -> dict[str, Any]:
    with rejecting(message_id_of(event), source="eventbridge"):
        signal = parse_signal_event(event, runtime.payload_store)
    with workflow_context(signal.correlation_id, signal.event_id, session_id=signal.session_id):
        return runtime.service.handle(signal, lambda_context=context).model_dump(mode="json")


@with_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context, get_runtime())
