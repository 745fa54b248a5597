"""Signal Aggregator Lambda: EventBridge `PartialSignalGenerated` events and SessionDeadlineQueue (SQS) records.

Thin: tell the two sources apart, parse, call the service. SQS records go through Powertools' batch
processor, so a record that fails is retried alone (ReportBatchItemFailures) and then dead-lettered."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from the_alchemiser.aggregator_v2.wiring import AggregatorRuntime, get_runtime
from the_alchemiser.shared.events import EventParseError, PartialSignalGenerated, decode_event
from the_alchemiser.shared.logging import with_lambda_context
from the_alchemiser.shared.rejections import message_id_of, rejecting
from the_alchemiser.shared.sessions import SessionDeadline


def _is_sqs_batch(event: dict[str, Any]) -> bool:
    """Lambda never sends an empty batch; anything else falls through to the EventBridge parser and fails."""
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def handle_deadlines(event: dict[str, Any], context: Any, runtime: AggregatorRuntime) -> dict[str, Any]:
    def record_handler(record: SQSRecord) -> dict[str, object]:
        with rejecting(record.message_id, source="sqs"):
            deadline = SessionDeadline.model_validate_json(record.body)
        return runtime.service.handle_deadline(deadline).as_dict()

    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


def handle_partial(event: dict[str, Any], runtime: AggregatorRuntime) -> dict[str, Any]:
    with rejecting(message_id_of(event), source="eventbridge"):
        envelope = EventBridgeModel.model_validate(event)
        detail = envelope.detail if isinstance(envelope.detail, dict) else {}
        parsed = decode_event(detail, runtime.payload_store)
        if not isinstance(parsed, PartialSignalGenerated):
            raise EventParseError(f"the aggregator handles PartialSignalGenerated, not {parsed.event_type}")
    return runtime.service.handle_partial(parsed).as_dict()


def handle(event: dict[str, Any], context: Any, runtime: AggregatorRuntime) -> dict[str, Any]:
    runtime.once.register_lambda_context(context)
    if _is_sqs_batch(event):
        return handle_deadlines(event, context, runtime)
    return handle_partial(event, runtime)


@with_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context, get_runtime())
