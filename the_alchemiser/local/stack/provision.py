"""Create template.yaml's data resources in the emulated AWS (moto, or DynamoDB Local for tables)."""

from __future__ import annotations

import json
from typing import Any

from the_alchemiser.local.stack.model import StackModel

_TABLE_KEYS = ("KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput")
_QUEUE_ATTRIBUTES = ("DelaySeconds", "VisibilityTimeout", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds")


def provision(model: StackModel, clients: dict[str, Any], *, tables: bool = True) -> None:
    """Tables, queues (dead-letter queues first), buckets, topics and buses, exactly as declared. With
    `tables=False` all but the tables: the local stack creates those apart (`provision_tables`) once
    DynamoDB Local listens, while it sets up the rest."""
    if tables:
        provision_tables(model, clients)
    queues = model.of_type("AWS::SQS::Queue")
    for logical_id in sorted(queues, key=lambda lid: "RedrivePolicy" in model.properties(lid)):
        _create_queue(clients["sqs"], model, logical_id)
    for logical_id in model.of_type("AWS::S3::Bucket"):
        clients["s3"].create_bucket(Bucket=model.physical_names[logical_id])
    for logical_id in model.of_type("AWS::SNS::Topic"):
        clients["sns"].create_topic(Name=model.physical_names[logical_id])
    for logical_id in model.of_type("AWS::Events::EventBus"):
        clients["events"].create_event_bus(Name=model.physical_names[logical_id])


def provision_tables(model: StackModel, clients: dict[str, Any]) -> None:
    """The template's tables not there yet (a kept DynamoDB Local database has them from an earlier run),
    from one listing."""
    client = clients["dynamodb"]
    existing = set(_table_names(client))
    for logical_id in model.of_type("AWS::DynamoDB::Table"):
        name = model.physical_names[logical_id]
        if name not in existing:
            _create_table(client, name, model.properties(logical_id))


def _table_names(client: Any) -> list[str]:
    names: list[str] = []
    request: dict[str, Any] = {}
    while True:
        page = client.list_tables(**request)
        names += page["TableNames"]
        if "LastEvaluatedTableName" not in page:
            return names
        request = {"ExclusiveStartTableName": page["LastEvaluatedTableName"]}


def _create_table(client: Any, name: str, props: dict[str, Any]) -> None:
    request: dict[str, Any] = {key: props[key] for key in _TABLE_KEYS if key in props}
    request.setdefault("BillingMode", "PAY_PER_REQUEST")
    indexes = [
        {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")}
        for index in props.get("GlobalSecondaryIndexes", [])
    ]
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    client.create_table(TableName=name, **request)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )


def _create_queue(client: Any, model: StackModel, logical_id: str) -> None:
    props = model.properties(logical_id)
    attributes = {key: str(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    if "RedrivePolicy" in props:
        policy = props["RedrivePolicy"]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": policy["deadLetterTargetArn"], "maxReceiveCount": str(policy["maxReceiveCount"])}
        )
    client.create_queue(QueueName=model.physical_names[logical_id], Attributes=attributes)
