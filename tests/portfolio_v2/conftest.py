"""Portfolio fixtures: the Powertools idempotency table on the real DynamoDB Local; signals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.aws import unique_name


def create_idempotency_table(client: Any, name: str) -> None:
    """Powertools' layout, as template.yaml declares IdempotencyTable: pk `id` (S)."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name)


@pytest.fixture
def idempotency_table(dynamodb_local_client: Any) -> str:
    name = unique_name("portfolio-idempotency")
    create_idempotency_table(dynamodb_local_client, name)
    return name
