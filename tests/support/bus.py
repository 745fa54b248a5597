"""A moto EventBridge bus read back through an SQS queue: what the tests' consumers would receive."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.fixtures.aws import REGION, unique_name
from the_alchemiser.shared.events import BaseEvent, S3PayloadStore, decode_event


class Bus:
    """A moto event bus whose rule copies the matching events (every alchemiser event unless a pattern is
    given) to an SQS queue, read back as events. Needs moto active."""

    def __init__(self, pattern: dict[str, Any] | None = None) -> None:
        self.events = boto3.client("events", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.name = unique_name("alchemiser-bus")
        self.bucket = unique_name("alchemiser-payloads")
        self.s3.create_bucket(Bucket=self.bucket)
        self.events.create_event_bus(Name=self.name)
        self.queue_url = self.sqs.create_queue(QueueName=unique_name("bus-copy"))["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        pattern = pattern or {"source": [{"prefix": "alchemiser."}]}
        self.events.put_rule(Name="everything", EventBusName=self.name, EventPattern=json.dumps(pattern))
        self.events.put_targets(Rule="everything", EventBusName=self.name, Targets=[{"Id": "q", "Arn": arn}])
        self.store = S3PayloadStore(self.s3, self.bucket)

    def received(self) -> list[BaseEvent]:
        """Events put on the bus since the last call, as the consumers would decode them."""
        found: list[BaseEvent] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(decode_event(json.loads(message["Body"])["detail"], self.store))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def received_envelopes(self) -> list[dict[str, Any]]:
        """The raw EventBridge envelopes (what a Lambda target receives)."""
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
