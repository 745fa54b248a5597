"""The report from the real DynamoDB trade ledger adapter on DynamoDB Local (not the in-memory one):
the CSV parses back with pandas and its totals equal what the ledger's own indexes return."""

from __future__ import annotations

import io
from decimal import Decimal as D
from typing import Any

import pandas as pd
import pytest

from tests.fixtures.aws import unique_name
from tests.notifications_v2.helpers import DictOnce
from tests.notifications_v2.scenarios import TRADING_DATE, execution_interrupted, partial_fill_day, success_day
from the_alchemiser.notifications_v2.report import UNATTRIBUTED, report_key
from the_alchemiser.notifications_v2.report_store import InMemoryReportStore
from the_alchemiser.notifications_v2.service import NotificationService
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
from the_alchemiser.shared.notifications import RecordingEmailSender

pytestmark = pytest.mark.dynamodb_local

# realised P&L by average cost over the ledger's by-symbol history (see scenarios.history_orders):
# TLT 20 @ 90 + 10 @ 93 -> 91, sold 5 @ 92.10 -> +5.50; BIL 30 @ 91, sold 30 @ 91.50 -> +15.00
EXPECTED_PNL = {
    "success_day": {"TLT": D("5.50"), "BIL": D("15.00")},
    "partial_fill_day": {"TLT": D("5.50")},
    "execution_interrupted": {"TLT": D("5.50"), "BIL": D("15.00")},
}


@pytest.fixture
def dynamo_ledger(dynamodb_local_client: Any) -> DynamoTradeLedger:
    name = unique_name("ledger")
    create_ledger_table(dynamodb_local_client, name)
    return DynamoTradeLedger(dynamodb_local_client, name)


@pytest.mark.parametrize("make", [success_day, partial_fill_day, execution_interrupted], ids=lambda m: m.__name__)
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

    correlation_id = scenario.event.correlation_id
    body = reports.objects[report_key(TRADING_DATE, correlation_id)]
    assert not pd.read_csv(io.BytesIO(body)).empty  # pandas reads it with its default parser
    exact = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    ledger_orders = dynamo_ledger.orders_for_correlation(correlation_id)
    assert ledger_orders, "the adapter returned the workflow's orders"

    # totals: buy and sell values, quantities per symbol, exactly the ledger's
    for column, side in (("buy_value", "buy"), ("sell_value", "sell")):
        ledger_total = sum((o.filled_value for o in ledger_orders if o.side == side), D(0))
        assert sum((D(v) for v in exact[column]), D(0)) == ledger_total
    for symbol in {o.symbol for o in ledger_orders if o.filled_qty > 0}:
        in_csv = sum((D(v) for v in exact[exact["symbol"] == symbol]["filled_qty"]), D(0))
        assert in_csv == sum((o.filled_qty for o in ledger_orders if o.symbol == symbol), D(0))
    assert set(exact["symbol"]) == {o.symbol for o in ledger_orders if o.filled_qty > 0}

    # per strategy: the ledger's strategy index, weighted by each order's attribution share
    today = {o.client_order_id for o in ledger_orders}
    for strategy, rows in exact.groupby("strategy"):
        attributed = [o for o in dynamo_ledger.orders_for_strategy(str(strategy)) if o.client_order_id in today]
        expected = sum((o.filled_value * o.strategy_attribution[str(strategy)] for o in attributed), D(0))
        csv_value = sum((D(v) for v in rows["buy_value"]), D(0)) + sum((D(v) for v in rows["sell_value"]), D(0))
        assert abs(csv_value - expected) <= D("0.000001") * len(attributed), strategy
    if "BIL" in set(exact["symbol"]):
        assert exact[exact["symbol"] == "BIL"]["strategy"].tolist() == [UNATTRIBUTED]

    # realised P&L by average cost over the adapter's by-symbol history
    for symbol, pnl in EXPECTED_PNL[scenario.name].items():
        assert sum((D(v) for v in exact[exact["symbol"] == symbol]["realised_pnl"] if v), D(0)) == pnl
    assert sum((D(v) for v in exact["realised_pnl"] if v), D(0)) == sum(EXPECTED_PNL[scenario.name].values())
    assert "CSV with per-strategy trades" in emails.sent[0].body
