"""ExecutionFunction: SQS-triggered (batch size 1, partial batch failures) by the RebalancePlanned rule.

Each record body is the whole EventBridge event; its `detail` is the RebalancePlanned event (or a
pointer to it in S3). A record that does not decode fails alone (retries, then the DLQ): never an order.
A failed execution raises, so SQS redelivers and the service resumes; on the last delivery the service
first publishes WorkflowFailed so operators hear of it."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from the_alchemiser.execution_v2.service import ExecutionOutOfTime, ExecutionService, PlanLeased
from the_alchemiser.shared.events import EventParseError, PayloadStore, RebalancePlanned, decode_event
from the_alchemiser.shared.logging import get_logger, with_lambda_context, workflow_context
from the_alchemiser.shared.rejections import rejecting

_log = get_logger("execution_v2.lambda_handler")

# The ExecutionQueue's redrive policy maxReceiveCount (template.yaml): the delivery that reports failure.
MAX_RECEIVE_COUNT = 3
MAX_VISIBILITY_SECONDS = 43_200  # SQS's limit
MAX_DELAY_SECONDS = 900  # SQS's limit for a message's delay
LEASE_RETRY_MARGIN_SECONDS = 5.0
FAILURE_RETRY_SECONDS = 30.0  # a failed delivery's backoff before SQS hands the message back
# An out-of-time resume continues the plan as a new message (receives count real failures only); these
# message attributes carry what the new message's own receive count cannot know (docs/decisions.md).
PRIOR_FAILURES_ATTRIBUTE = "alchemiser-prior-failures"
RESUMES_ATTRIBUTE = "alchemiser-resumes"
MAX_RESUMES = 20  # a plan that keeps running out of time without finishing is a failure after this many


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


def queue_url_of(queue_arn: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> -> the queue's URL (no GetQueueUrl call needed)."""
    _, _, _, region, account, name = queue_arn.split(":", 5)
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def sqs_resume_now(sqs_client: Any) -> Callable[[SQSRecord], None]:
    """Make a record visible again at once, so the next invocation resumes the plan without waiting
    out the queue's visibility timeout."""

    def resume(record: SQSRecord) -> None:
        sqs_client.change_message_visibility(
            QueueUrl=queue_url_of(record.event_source_arn), ReceiptHandle=record.receipt_handle, VisibilityTimeout=0
        )

    return resume


def sqs_retry_later(sqs_client: Any) -> Callable[[SQSRecord, float], None]:
    """Make a record visible again after `seconds` (when the plan's current owner will be done)."""

    def retry(record: SQSRecord, seconds: float) -> None:
        sqs_client.change_message_visibility(
            QueueUrl=queue_url_of(record.event_source_arn),
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=max(0, min(MAX_VISIBILITY_SECONDS, math.ceil(seconds))),
        )

    return retry


Requeue = Callable[[SQSRecord, int, int, float], None]


def sqs_requeue(sqs_client: Any) -> Requeue:
    """Send the record's body again as a new message carrying the failure and resume counts, visible after
    `delay_seconds` (SQS allows up to 900)."""

    def requeue(record: SQSRecord, prior_failures: int, resumes: int, delay_seconds: float = 0.0) -> None:
        sqs_client.send_message(
            QueueUrl=queue_url_of(record.event_source_arn),
            MessageBody=record.body,
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, math.ceil(delay_seconds))),
            MessageAttributes={
                PRIOR_FAILURES_ATTRIBUTE: {"DataType": "Number", "StringValue": str(prior_failures)},
                RESUMES_ATTRIBUTE: {"DataType": "Number", "StringValue": str(resumes)},
            },
        )

    return requeue


def _carried(record: SQSRecord, name: str) -> int:
    raw: dict[str, Any] = record.raw_event.get("messageAttributes") or {}
    value = (raw.get(name) or {}).get("stringValue")
    try:
        return max(0, int(value)) if value else 0
    except ValueError:
        return 0


def make_record_handler(
    service: ExecutionService,
    store: PayloadStore | None,
    *,
    time_left: Callable[[], float] | None = None,
    resume_now: Callable[[SQSRecord], None] | None = None,
    retry_later: Callable[[SQSRecord, float], None] | None = None,
    requeue: Requeue | None = None,
) -> Callable[[SQSRecord], None]:
    def handle(record: SQSRecord) -> None:
        with rejecting(record.message_id, source="sqs"):
            event = parse_record(record.body, store)
        # real failures so far: this message's earlier receives plus those of the messages it continues
        prior_failures = (
            _carried(record, PRIOR_FAILURES_ATTRIBUTE) + int(record.attributes.approximate_receive_count or "1") - 1
        )
        receive_count = prior_failures + 1  # the delivery this is, counting failures only
        with workflow_context(event.correlation_id, event.event_id):
            try:
                service.execute(event, time_left=time_left)
            except PlanLeased as exc:
                # another delivery is working this plan: retry once its lease ends, without working it; not
                # a failure either, so (like a resume) it goes on as a new message when it can
                _log.warning(
                    "execution_backs_off", receive_count=receive_count, retry_after_seconds=exc.retry_after_seconds
                )
                wait = exc.retry_after_seconds + LEASE_RETRY_MARGIN_SECONDS
                resumes = _carried(record, RESUMES_ATTRIBUTE)
                if requeue is not None and resumes < MAX_RESUMES:
                    try:
                        requeue(record, prior_failures, resumes + 1, wait)
                        return
                    except Exception:
                        _log.exception("requeue_failed", note="the message is retried instead")
                if retry_later is not None:
                    retry_later(record, wait)
                raise
            except ExecutionOutOfTime as exc:
                _log.warning("execution_continues_in_next_invocation", receive_count=receive_count)
                resumes = _carried(record, RESUMES_ATTRIBUTE)
                if requeue is not None and resumes < MAX_RESUMES:
                    try:
                        requeue(record, prior_failures, resumes + 1, 0.0)
                        return  # progress, not a failure: this message goes, the new one carries on
                    except Exception:
                        _log.exception("requeue_failed", note="the message is retried instead")
                if receive_count >= MAX_RECEIVE_COUNT:
                    service.report_failure(event, exc, time_left=time_left)
                elif resume_now is not None:
                    resume_now(record)
                raise
            except Exception as exc:
                _log.exception("execution_failed", receive_count=receive_count, error=str(exc))
                if receive_count >= MAX_RECEIVE_COUNT:
                    service.report_failure(event, exc, time_left=time_left)
                elif retry_later is not None:  # soon, not after the queue's 900 s: the close is near
                    retry_later(record, FAILURE_RETRY_SECONDS)
                raise

    return handle


def process_sqs_event(
    event: dict[str, Any],
    context: Any,
    service: ExecutionService,
    store: PayloadStore | None,
    resume_now: Callable[[SQSRecord], None] | None = None,
    *,
    retry_later: Callable[[SQSRecord, float], None] | None = None,
    requeue: Requeue | None = None,
) -> PartialItemFailureResponse:
    """The handler's body with its dependencies given (tests and the local stack use this directly)."""
    # a batch of one that fails is reported as that item's failure (SQS retries it), not raised
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    time_left = (lambda: remaining() / 1000) if callable(remaining) else None
    handler = make_record_handler(
        service, store, time_left=time_left, resume_now=resume_now, retry_later=retry_later, requeue=requeue
    )
    return process_partial_response(event=event, record_handler=handler, processor=processor, context=context)


@with_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    from the_alchemiser.execution_v2.wiring import get_execution_service, get_payload_store, get_sqs_client

    sqs = get_sqs_client()
    return process_sqs_event(
        event,
        context,
        get_execution_service(),
        get_payload_store(),
        sqs_resume_now(sqs),
        retry_later=sqs_retry_later(sqs),
    )
