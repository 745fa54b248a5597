"""ExecutionFunction: SQS-triggered (batch size 1, partial batch failures) by the RebalancePlanned rule.

Each record body is the whole EventBridge event; its `detail` is the RebalancePlanned event (or a
pointer to it in S3). A record that does not decode fails alone (retries, then the DLQ): never an order.
A failed execution raises, so SQS redelivers and the service resumes; on the last delivery the service
first publishes WorkflowFailed so operators hear of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.shared.events import EventParseError, PayloadStore, RebalancePlanned, decode_event
from the_alchemiser.shared.logging import get_logger, workflow_context

_log = get_logger("execution_v2.lambda_handler")

# The ExecutionQueue's redrive policy maxReceiveCount (template.yaml): the delivery that reports failure.
MAX_RECEIVE_COUNT = 3


def parse_record(body: str, store: PayloadStore | None) -> RebalancePlanned:
    """The RebalancePlanned event inside an SQS record body (an EventBridge event)."""
    try:
        envelope = json.loads(body)
    except json.JSONDecodeError as exc:
        raise EventParseError(f"record body is not JSON: {exc}") from exc
    if not isinstance(envelope, dict) or "detail" not in envelope:
        raise EventParseError("record body is not an EventBridge event (no detail)")
    detail_type = envelope.get("detail-type")
    if detail_type is not None and detail_type != "RebalancePlanned":
        raise EventParseError(f"unexpected detail-type {detail_type!r}")
    event = decode_event(envelope["detail"], store)
    if not isinstance(event, RebalancePlanned):
        raise EventParseError(f"expected RebalancePlanned, got {event.event_type}")
    return event


def make_record_handler(service: ExecutionService, store: PayloadStore | None) -> Callable[[SQSRecord], None]:
    def handle(record: SQSRecord) -> None:
        event = parse_record(record.body, store)
        receive_count = int(record.attributes.approximate_receive_count or "1")
        with workflow_context(event.correlation_id, event.event_id):
            try:
                service.execute(event)
            except Exception as exc:
                _log.exception("execution_failed", receive_count=receive_count, error=str(exc))
                if receive_count >= MAX_RECEIVE_COUNT:
                    service.report_failure(event, exc)
                raise

    return handle


def process_sqs_event(
    event: dict[str, Any], context: Any, service: ExecutionService, store: PayloadStore | None
) -> PartialItemFailureResponse:
    """The handler's body with its dependencies given (tests and the local stack use this directly)."""
    # a batch of one that fails is reported as that item's failure (SQS retries it), not raised
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=make_record_handler(service, store), processor=processor, context=context
    )


def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    from the_alchemiser.execution_v2.wiring import get_execution_service, get_payload_store

    return process_sqs_event(event, context, get_execution_service(), get_payload_store())
