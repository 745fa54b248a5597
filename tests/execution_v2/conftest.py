"""Execution test fixtures: a fresh ledger table on DynamoDB Local per test."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.aws import unique_name
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table


@pytest.fixture
def ledger(dynamodb_local_client: Any) -> DynamoTradeLedger:
    name = unique_name("exec-ledger")
    create_ledger_table(dynamodb_local_client, name)
    return DynamoTradeLedger(dynamodb_local_client, name)
