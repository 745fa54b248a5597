"""Notifications test fixtures: PowertoolsOnce on the real DynamoDB Local (tests/fixtures/idempotency.py),
and moto for SNS/S3/SQS
(emails are counted where a subscriber gets them: an SQS queue subscribed to the topic)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import REGION, unique_name
from the_alchemiser.notifications_v2.wiring import ONCE_KEY_PREFIX
from the_alchemiser.shared.once import PowertoolsOnce


@pytest.fixture
def powertools_once(dynamodb_local_client: Any, idempotency_table: str) -> PowertoolsOnce:
    return PowertoolsOnce.on_table(idempotency_table, dynamodb_local_client, key_prefix=ONCE_KEY_PREFIX)


@dataclass(frozen=True)
class DeliveredEmail:
    message_id: str
    subject: str | None
    body: str
    attributes: dict[str, str]


class SnsInbox:
    """An SQS queue subscribed to the notifications topic: what an email subscriber would receive.

    `delivered()` drains the queue into a running list, so repeated calls count every delivery once."""

    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn
        self._sqs = boto3.client("sqs", region_name=REGION)
        self._queue_url = self._sqs.create_queue(QueueName=unique_name("email-subscriber"))["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        boto3.client("sns", region_name=REGION).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self._delivered: list[DeliveredEmail] = []

    def delivered(self) -> list[DeliveredEmail]:
        while True:
            batch = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return list(self._delivered)
            for message in batch:
                envelope = json.loads(message["Body"])  # SNS's JSON envelope (raw delivery off)
                self._delivered.append(
                    DeliveredEmail(
                        message_id=envelope["MessageId"],
                        subject=envelope.get("Subject"),
                        body=envelope["Message"],
                        attributes={
                            name: value["Value"] for name, value in envelope.get("MessageAttributes", {}).items()
                        },
                    )
                )
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def sns_topic(moto_aws: None) -> str:
    sns = boto3.client("sns", region_name=REGION)
    arn: str = sns.create_topic(Name=unique_name("alchemiser-notifications"))["TopicArn"]
    return arn


@pytest.fixture
def sns_inbox(sns_topic: str) -> SnsInbox:
    return SnsInbox(sns_topic)
