"""Issue 14 finding 7: every message a handler rejects (malformed, fails validation) is logged at ERROR
with its reason and its message id (SQS messageId, EventBridge id, the scheduler's execution id), in
every handler, so the operator reading the logs at the DLQ alarm knows which message and why.

The handlers are called at their `handle` functions with stand-ins for the services: a rejected message
never reaches them."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.execution_v2.plans import sqs_batch
from the_alchemiser.shared.logging import configure_logging


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        configure_logging("INFO", stream=sys.stdout)


class Untouchable:
    """A service a rejected message must never reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a rejected message reached the service ({name})")


def _sqs(body: str, message_id: str) -> dict[str, Any]:
    return sqs_batch(body, message_id=message_id)


def _eventbridge(event_id: str, detail_type: str, detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "alchemiser.test",
        "account": "123456789012",
        "time": "2026-11-24T20:30:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def execution_bad_json() -> Any:
    from the_alchemiser.execution_v2.lambda_handler import process_sqs_event

    return process_sqs_event(_sqs("{not json", "sqs-exec-1"), None, Untouchable(), None)  # type: ignore[arg-type]


def execution_wrong_event() -> Any:
    from the_alchemiser.execution_v2.lambda_handler import process_sqs_event

    body = json.dumps(_eventbridge("eb-x", "RebalancePlanned", {"event_type": "RebalancePlanned", "nope": 1}))
    return process_sqs_event(_sqs(body, "sqs-exec-2"), None, Untouchable(), None)  # type: ignore[arg-type]


_NO_ONCE = SimpleNamespace(register_lambda_context=lambda _context: None)


def aggregator_bad_deadline() -> Any:
    from the_alchemiser.aggregator_v2.lambda_handler import handle

    runtime = SimpleNamespace(service=Untouchable(), payload_store=None, once=_NO_ONCE)
    return handle(_sqs('{"session_id": 5}', "sqs-deadline-1"), None, runtime)  # type: ignore[arg-type]


def aggregator_bad_partial() -> Any:
    from the_alchemiser.aggregator_v2.lambda_handler import handle

    runtime = SimpleNamespace(service=Untouchable(), payload_store=None, once=_NO_ONCE)
    return handle(_eventbridge("eb-partial-1", "PartialSignalGenerated", {"event_type": "nonsense"}), None, runtime)  # type: ignore[arg-type]


def portfolio_bad_signal() -> Any:
    from the_alchemiser.portfolio_v2.lambda_handler import handle

    runtime = SimpleNamespace(service=Untouchable(), payload_store=None)
    return handle(_eventbridge("eb-signal-1", "SignalGenerated", {"event_type": "SignalGenerated"}), None, runtime)  # type: ignore[arg-type]


def notifications_bad_outcome() -> Any:
    from the_alchemiser.notifications_v2.lambda_handler import handle

    alerted: list[dict[str, Any]] = []

    class Service:
        def alert_malformed_event(self, **kwargs: Any) -> Any:
            alerted.append(kwargs)
            return SimpleNamespace(as_dict=lambda: {"action": "malformed_alerted"})

    runtime = SimpleNamespace(
        service=Service(), payload_store=None, once=SimpleNamespace(register_lambda_context=lambda _c: None)
    )
    result = handle(_eventbridge("eb-outcome-1", "WorkflowFailed", {"event_type": "WorkflowFailed"}), None, runtime)  # type: ignore[arg-type]
    assert alerted, "the operator email for a malformed event is still sent"
    return result


def orchestrator_bad_trigger() -> Any:
    from the_alchemiser.coordinator_v2.lambda_handler import handle

    return handle({"trigger": "schedule", "execution_id": "sched-exec-1", "date": "2026-11-24"}, Untouchable())  # type: ignore[arg-type]


def worker_bad_request() -> Any:
    from the_alchemiser.strategy_v2.lambda_handler import handle

    return handle({"id": "invoke-1", "dsl_file": 7}, Untouchable())  # type: ignore[arg-type]


def data_refresh_bad_request() -> Any:
    from the_alchemiser.data_v2.lambda_handler import handle

    return handle({"id": "eb-refresh-1", "symbols": []}, Untouchable())  # type: ignore[arg-type]


def _batch_failed() -> type[Exception]:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    return BatchProcessingError


# (the invocation, the id its log line names, what the handler raises: None when it answers)
CASES: list[tuple[Callable[[], Any], str, type[Exception] | None]] = [
    (execution_bad_json, "sqs-exec-1", None),
    (execution_wrong_event, "sqs-exec-2", None),
    (aggregator_bad_deadline, "sqs-deadline-1", _batch_failed()),  # a batch of one that fails raises
    (aggregator_bad_partial, "eb-partial-1", ValueError),
    (portfolio_bad_signal, "eb-signal-1", ValueError),
    (notifications_bad_outcome, "eb-outcome-1", None),
    (orchestrator_bad_trigger, "sched-exec-1", ValueError),
    (worker_bad_request, "invoke-1", ValueError),
    (data_refresh_bad_request, "eb-refresh-1", ValueError),
]


@pytest.mark.parametrize(("invoke", "message_id", "raises"), CASES, ids=[case[0].__name__ for case in CASES])
def test_every_rejected_message_is_logged_at_error_with_reason_and_id(
    log_lines: Callable[[], list[dict[str, Any]]],
    invoke: Callable[[], Any],
    message_id: str,
    raises: type[Exception] | None,
) -> None:
    if raises is not None:
        with pytest.raises(raises):
            invoke()
    else:
        result = invoke()
        if "batchItemFailures" in result:  # an SQS record: failed alone, retried, then dead-lettered
            assert result["batchItemFailures"] == [{"itemIdentifier": message_id}]
    rejected = [line for line in log_lines() if line.get("event") == "message_rejected"]
    assert len(rejected) == 1, log_lines()
    (line,) = rejected
    assert line["level"] == "error"
    assert line["message_id"] == message_id
    assert isinstance(line["reason"], str) and len(line["reason"]) > 10
    assert line["component"]


def test_a_rejection_also_puts_the_messages_rejected_metric(
    log_lines: Callable[[], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """So the operator is alarmed within minutes (MessagesRejectedAlarm), not at the DLQ alarm 45 minutes on."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "alchemiser-test")
    execution_bad_json()
    emf = [line for line in log_lines() if "_aws" in line]
    assert len(emf) == 1
    (directive,) = emf[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "alchemiser-test"
    assert directive["Metrics"] == [{"Name": "MessagesRejected", "Unit": "Count"}]
