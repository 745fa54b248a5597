"""A small template for the router tests, built in Python (long-form intrinsics), written as JSON and read
by the same loader and model as template.yaml, provisioned in moto, and routed by a LocalRouter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from tests.support.local.router_probe import PROBE
from the_alchemiser.local.stack.model import StackModel, load_stack_model
from the_alchemiser.local.stack.provision import provision
from the_alchemiser.local.stack.router import LocalRouter

REGION = "us-east-1"


def arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def function(**properties: Any) -> dict[str, Any]:
    """A SAM function whose handler is the probe's (tests/support/local/router_handlers.py)."""
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": "tests/support/local/",
            "Handler": "router_handlers.handle",
            "Timeout": 20,
            **properties,
        },
    }


def queue(visibility: int = 30, dead_letter: str | None = None, max_receive: int = 3) -> dict[str, Any]:
    properties: dict[str, Any] = {"VisibilityTimeout": visibility}
    if dead_letter:
        properties["RedrivePolicy"] = {"deadLetterTargetArn": arn(dead_letter), "maxReceiveCount": max_receive}
    return {"Type": "AWS::SQS::Queue", "Properties": properties}


def mapping(queue_id: str, function_id: str, batch_size: int = 10, report: bool = True, **extra: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "EventSourceArn": arn(queue_id),
        "FunctionName": {"Ref": function_id},
        "BatchSize": batch_size,
        **extra,
    }
    if report:
        properties["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    return {"Type": "AWS::Lambda::EventSourceMapping", "Properties": properties}


def rule(pattern: dict[str, Any], *targets: dict[str, Any], bus: str = "Bus") -> dict[str, Any]:
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {"EventBusName": {"Ref": bus}, "EventPattern": pattern, "Targets": list(targets)},
    }


def target(logical_id: str, **extra: Any) -> dict[str, Any]:
    return {"Id": logical_id.lower(), "Arn": arn(logical_id), **extra}


BUS = {"Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "test-bus"}}}


@dataclass
class Stack:
    model: StackModel
    router: LocalRouter
    sqs: Any
    events: Any
    lambda_: Any

    def send(self, queue_id: str, *bodies: str) -> list[str]:
        """Messages into a queue, in order; their message ids."""
        url = self.model.queue_url(queue_id)
        return [self.sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]

    def messages(self, queue_id: str) -> list[dict[str, Any]]:
        """Every visible message in a queue (received, not deleted)."""
        url = self.model.queue_url(queue_id)
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=600
            ).get("Messages", [])
            if not batch:
                return found
            found += batch

    def depth(self, queue_id: str) -> int:
        """Messages in a queue, visible or in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.model.queue_url(queue_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def publish(self, detail_type: str, detail: dict[str, Any], source: str = "alchemiser.test") -> None:
        self.events.put_events(
            Entries=[
                {"EventBusName": "test-bus", "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
            ]
        )


def write_template(directory: Path, resources: dict[str, Any]) -> Path:
    path = directory / "template.json"
    body = {"AWSTemplateFormatVersion": "2010-09-09", "Transform": "AWS::Serverless-2016-10-31"}
    path.write_text(json.dumps({**body, "Resources": resources}))
    return path


@contextmanager
def stack(directory: Path, resources: dict[str, Any], **router_options: Any) -> Iterator[Stack]:
    """The template's resources in moto and a router installed over them (the probe reset)."""
    PROBE.reset()
    model = load_stack_model(write_template(directory, resources), "local")
    with mock_aws():
        clients = {s: boto3.client(s, region_name=REGION) for s in ("dynamodb", "sqs", "s3", "sns", "events")}
        provision(model, clients)
        router = LocalRouter(model, **router_options)
        with router.installed():  # clients made from here on are seen by the router (botocore copies hooks)
            events, lambda_ = (boto3.client(s, region_name=REGION) for s in ("events", "lambda"))
            yield Stack(model, router, clients["sqs"], events, lambda_)
    PROBE.reset()
