"""Publishing to EventBridge (moto): entries within the size limit, large bodies to S3 by key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from the_alchemiser.shared.events import (
    EventBridgePublisher,
    S3PayloadStore,
    WorkflowFailed,
    decode_event,
    encode_detail,
)
from the_alchemiser.shared.events.publisher import INLINE_DETAIL_LIMIT, EventPublishError


def failure(size: int = 0) -> WorkflowFailed:
    return WorkflowFailed(
        correlation_id="wf-1",
        causation_id="evt-0",
        source_module="aggregator_v2",
        source_component="SignalAggregator",
        failure_reason="deadline",
        failure_step="aggregation",
        error_details={"blob": "x" * size, "missing_strategies": ["klm.clj"], "amount": str(Decimal("1.10"))},
    )


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="payloads")
        events = boto3.client("events", region_name="us-east-1")
        events.create_event_bus(Name="bus")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="all", EventBusName="bus", EventPattern=json.dumps({"source": [{"prefix": "alchemiser."}]})
        )
        events.put_targets(Rule="all", EventBusName="bus", Targets=[{"Id": "tap", "Arn": queue_arn}])
        yield {"s3": s3, "events": events, "sqs": sqs, "queue_url": queue_url}


def delivered(aws: dict[str, Any]) -> list[dict[str, Any]]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)["Messages"]
    return [json.loads(m["Body"]) for m in messages]


def test_small_event_goes_inline(aws: dict[str, Any]) -> None:
    store = S3PayloadStore(aws["s3"], "payloads")
    event = failure()
    EventBridgePublisher(aws["events"], "bus", store).publish(event)
    [envelope] = delivered(aws)
    assert envelope["source"] == "alchemiser.aggregator_v2"
    assert envelope["detail-type"] == "WorkflowFailed"
    assert decode_event(envelope["detail"], store) == event
    assert aws["s3"].list_objects_v2(Bucket="payloads").get("KeyCount", 0) == 0


def test_large_event_goes_to_s3_and_comes_back_whole(aws: dict[str, Any]) -> None:
    store = S3PayloadStore(aws["s3"], "payloads")
    event = failure(size=400_000)
    EventBridgePublisher(aws["events"], "bus", store).publish(event)
    [envelope] = delivered(aws)
    assert len(json.dumps(envelope["detail"])) < 2_000
    assert envelope["detail"]["payload_key"].startswith("events/wf-1/WorkflowFailed/")
    assert decode_event(envelope["detail"], store) == event


def test_inline_limit_keeps_entries_under_256_kb() -> None:
    assert INLINE_DETAIL_LIMIT < 256 * 1024
    detail = encode_detail(failure(size=INLINE_DETAIL_LIMIT - 2_000), store=None)
    assert len(detail.encode()) <= INLINE_DETAIL_LIMIT


def test_large_event_without_store_is_an_error_not_a_truncation() -> None:
    with pytest.raises(EventPublishError, match="over the inline limit"):
        encode_detail(failure(size=300_000), store=None)


def test_refused_entry_raises() -> None:
    class Refusing:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "Throttling", "ErrorMessage": "slow down"}]}

    with pytest.raises(EventPublishError, match="Throttling"):
        EventBridgePublisher(Refusing(), "bus").publish(failure())
