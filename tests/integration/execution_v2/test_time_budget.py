"""Execution stops in time before the Lambda timeout and hands the message straight back to SQS, so the
next invocation resumes the plan at once instead of after the queue's visibility timeout. Real DynamoDB
Local for the ledger, moto SQS for the queue, a scripted broker."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.fake_broker import FakeBroker
from tests.support.execution_v2.plans import buy, planned, sell, sqs_event
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.lambda_handler import (
    MAX_RECEIVE_COUNT,
    process_sqs_event,
    sqs_requeue,
    sqs_resume_now,
)
from the_alchemiser.execution_v2.service import ExecutionOutOfTime, ExecutionService
from the_alchemiser.shared.broker.models import Quote
from the_alchemiser.shared.events import InMemoryPublisher
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger

pytestmark = pytest.mark.dynamodb_local
D = Decimal
FAST = ExecutionConfig(step_wait_seconds=1, poll_interval_seconds=1, market_wait_seconds=2, cancel_wait_seconds=1)
ITEMS = [sell("QQQ", "5", "100"), sell("IWM", "4", "100"), buy("SPY", "3", "100"), buy("DIA", "2", "100")]


def a_broker() -> FakeBroker:
    quotes = {s: Quote(symbol=s, bid=D("99.95"), ask=D("100.05")) for s in ("QQQ", "IWM", "SPY", "DIA")}
    return FakeBroker(quotes=quotes, positions={"QQQ": D(5), "IWM": D(4)})


def service(broker: FakeBroker, ledger: DynamoTradeLedger, publisher: InMemoryPublisher) -> ExecutionService:
    return ExecutionService(broker, ledger, publisher, clock=VirtualWaitClock(), config=FAST)


def filled(broker: FakeBroker) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = {}
    for order in broker.orders.values():
        key = (order.symbol, order.side.value)
        totals[key] = totals.get(key, D(0)) + order.filled_qty
    return {k: v for k, v in totals.items() if v}


def test_running_out_of_time_stops_between_steps_and_the_redelivery_finishes_the_same_plan(
    ledger: DynamoTradeLedger,
) -> None:
    reference_broker = a_broker()
    service(reference_broker, ledger, InMemoryPublisher()).execute(planned(ITEMS))

    broker, publisher = a_broker(), InMemoryPublisher()
    event = planned(ITEMS)

    def time_left() -> float:  # plenty until the first order is out, then inside the stop margin
        return 120.0 if not broker.placed else 10.0

    with pytest.raises(ExecutionOutOfTime):
        service(broker, ledger, publisher).execute(event, time_left=time_left)
    assert 1 <= len(broker.placed) < len(reference_broker.placed), "it stopped mid-plan"
    assert publisher.events == [], "no outcome is published for an unfinished plan"

    service(broker, ledger, publisher).execute(event)  # the next invocation, with time to spare
    ids = [request.client_order_id for request in broker.placed]
    assert len(ids) == len(set(ids)), "a client order id was sent twice"
    assert filled(broker) == filled(reference_broker)
    assert [e.event_type for e in publisher.events] == ["TradeExecuted", "WorkflowCompleted"]


class NearlyOutOfTime:
    """A Lambda context with 10 seconds left: inside the stop margin from the start."""

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_the_handler_makes_the_message_visible_again_at_once(ledger: DynamoTradeLedger) -> None:
    event = planned(ITEMS)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="execution", Attributes={"VisibilityTimeout": "900"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        body = json.loads(json.dumps(sqs_event(event)))["Records"][0]["body"]
        sqs.send_message(QueueUrl=url, MessageBody=body)
        message = sqs.receive_message(QueueUrl=url)["Messages"][0]
        batch: dict[str, Any] = sqs_event(event)
        record = batch["Records"][0]
        record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], eventSourceARN=arn)

        broker, publisher = a_broker(), InMemoryPublisher()
        response = process_sqs_event(
            batch, NearlyOutOfTime(), service(broker, ledger, publisher), None, sqs_resume_now(sqs)
        )
        assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
        assert broker.placed == [] and publisher.events == []
        again = sqs.receive_message(QueueUrl=url).get("Messages", [])
        assert [m["MessageId"] for m in again] == [message["MessageId"]], "not handed straight back"


def test_out_of_time_on_the_last_delivery_reports_the_failure_instead(ledger: DynamoTradeLedger) -> None:
    resumed: list[Any] = []
    broker, publisher = a_broker(), InMemoryPublisher()
    response = process_sqs_event(
        sqs_event(planned(ITEMS), receive_count=MAX_RECEIVE_COUNT),
        NearlyOutOfTime(),
        service(broker, ledger, publisher),
        None,
        resumed.append,
    )
    assert response["batchItemFailures"] and not resumed
    assert [e.event_type for e in publisher.events] == ["WorkflowFailed"]
    assert "ExecutionOutOfTime" in publisher.events[0].model_dump_json()


class OutOfTimeAfterFirstOrder:
    """A Lambda context with time until the first order is out, then inside the stop margin."""

    def __init__(self, broker: FakeBroker) -> None:
        self._broker = broker

    def get_remaining_time_in_millis(self) -> int:
        return 120_000 if not self._broker.placed else 10_000


def test_an_out_of_time_resume_does_not_spend_one_of_the_three_receives(ledger: DynamoTradeLedger) -> None:
    """Issue 14, finding 11: out of time is progress, not a failure. The handler continues the plan as a new
    message (same body; the real failures so far and the resumes carried as message attributes) and lets
    this one go, so the queue's receive count (3, then the DLQ) counts real failures only."""
    event = planned(ITEMS)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="execution", Attributes={"VisibilityTimeout": "900"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.send_message(QueueUrl=url, MessageBody=json.loads(json.dumps(sqs_event(event)))["Records"][0]["body"])
        broker, publisher = a_broker(), InMemoryPublisher()

        def deliver(context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            [message] = sqs.receive_message(
                QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"], VisibilityTimeout=900
            )["Messages"]
            batch: dict[str, Any] = sqs_event(event)
            batch["Records"][0].update(
                messageId=message["MessageId"],
                receiptHandle=message["ReceiptHandle"],
                eventSourceARN=arn,
                body=message["Body"],
                attributes=message["Attributes"],
                messageAttributes={
                    k: {"stringValue": v["StringValue"], "dataType": v["DataType"]}
                    for k, v in message.get("MessageAttributes", {}).items()
                },
            )
            response = process_sqs_event(
                batch, context, service(broker, ledger, publisher), None, sqs_resume_now(sqs), requeue=sqs_requeue(sqs)
            )
            return dict(response), message

        response, _ = deliver(OutOfTimeAfterFirstOrder(broker))
        assert response["batchItemFailures"] == []  # this receive is not a failure...
        assert 1 <= len(broker.placed) and publisher.events == []
        response, second = deliver(None)  # ...the plan goes on as a fresh message, received for the first time
        assert second["Attributes"]["ApproximateReceiveCount"] == "1"
        assert second["MessageAttributes"]["alchemiser-resumes"]["StringValue"] == "1"
        assert response["batchItemFailures"] == []
        assert [e.event_type for e in publisher.events] == ["TradeExecuted", "WorkflowCompleted"]
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # nothing left, nothing doubled
