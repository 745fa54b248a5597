"""The report from the real DynamoDB trade ledger adapter on DynamoDB Local (not the in-memory one)."""

from __future__ import annotations

import io
from decimal import Decimal as D
from typing import Any

import pandas as pd
import pytest

from tests.fixtures.aws import unique_name
from tests.notifications_v2.helpers import DictOnce
from tests.notifications_v2.scenarios import TRADING_DATE, partial_fill_day, success_day
from the_alchemiser.notifications_v2.report import report_key
from the_alchemiser.notifications_v2.report_store import InMemoryReportStore
from the_alchemiser.notifications_v2.service import NotificationService
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
from the_alchemiser.shared.notifications import RecordingEmailSender

pytestmark = pytest.mark.dynamodb_local


@pytest.fixture
def dynamo_ledger(dynamodb_local_client: Any) -> DynamoTradeLedger:
    name = unique_name("ledger")
    create_ledger_table(dynamodb_local_client, name)
    return DynamoTradeLedger(dynamodb_local_client, name)


@pytest.mark.parametrize("make", [success_day, partial_fill_day], ids=lambda m: m.__name__)
def test_report_totals_equal_the_dynamodb_ledger(make, dynamo_ledger: DynamoTradeLedger) -> None:
    scenario = make()
    for order in scenario.ledger:
        dynamo_ledger.record(order)
    reports = InMemoryReportStore()
    emails = RecordingEmailSender()
    service = NotificationService(
        emails=emails, reports=reports, ledger=dynamo_ledger, once=DictOnce(), mode_label="PAPER", stage="dev"
    )
    assert service.handle_event(scenario.event).action == "email_sent"

    body = reports.objects[report_key(TRADING_DATE, scenario.event.correlation_id)]
    exact = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    ledger_orders = dynamo_ledger.orders_for_correlation(scenario.event.correlation_id)
    assert ledger_orders, "the adapter returned the workflow's orders"
    for column, side in (("buy_value", "buy"), ("sell_value", "sell")):
        ledger_total = sum((o.filled_value for o in ledger_orders if o.side == side), D(0))
        assert sum((D(v) for v in exact[column]), D(0)) == ledger_total
    # realised P&L by average cost over the adapter's by-symbol history: TLT 20 @ 90 + 10 @ 93, sold 5 @ 92.10
    tlt = exact[exact["symbol"] == "TLT"]
    assert D(tlt["realised_pnl"].iloc[0]) == D("5.50")
    assert "CSV with per-strategy trades" in emails.sent[0].body
