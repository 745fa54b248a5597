"""Notifications test fixtures: the Powertools idempotency table on the real DynamoDB Local,
and moto for SNS/S3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.fixtures.aws import REGION, unique_name
from the_alchemiser.notifications_v2.once import PowertoolsOnce


def create_idempotency_table(client: Any, name: str) -> None:
    """Powertools' layout, as template.yaml declares IdempotencyTable: pk `id`, TTL `expiration`."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name)


@pytest.fixture
def idempotency_table(dynamodb_local_client: Any) -> str:
    name = unique_name("idempotency")
    create_idempotency_table(dynamodb_local_client, name)
    return name


@pytest.fixture
def powertools_once(dynamodb_local_client: Any, idempotency_table: str) -> PowertoolsOnce:
    return PowertoolsOnce.on_table(idempotency_table, dynamodb_local_client)


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """moto for SNS and S3; DynamoDB Local (a localhost endpoint) passes through untouched."""
    with mock_aws():
        yield


@pytest.fixture
def sns_topic(moto_aws: None) -> str:
    sns = boto3.client("sns", region_name=REGION)
    arn: str = sns.create_topic(Name=unique_name("alchemiser-notifications"))["TopicArn"]
    return arn


def sns_sent(topic_arn: str) -> list[tuple[str, str, str | None]]:
    """(message id, body, subject) of every publish moto's SNS backend accepted on the topic."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    topic = sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[topic_arn]
    return [(entry[0], entry[1], entry[2]) for entry in topic.sent_notifications]
