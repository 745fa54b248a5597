"""The report from the real DynamoDB trade ledger adapter on DynamoDB Local: the plans booked by the
adapter as execution books them, the report read back through the adapter."""

from __future__ import annotations

import io
from decimal import Decimal as D
from typing import Any

import pandas as pd
import pytest

from tests.fixtures.aws import unique_name
from tests.fixtures.idempotency import MemoryOnce
from tests.support.notifications_v2.report_memory import InMemoryReportStore
from tests.support.notifications_v2.scenarios import (
    TRADING_DATE,
    history_executions,
    success_day,
    success_trades,
    today_plan,
)
from the_alchemiser.notifications_v2.report import report_key
from the_alchemiser.notifications_v2.service import NotificationService
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
from the_alchemiser.shared.notifications import RecordingEmailSender

pytestmark = pytest.mark.dynamodb_local


@pytest.fixture
def dynamo_ledger(dynamodb_local_client: Any) -> DynamoTradeLedger:
    name = unique_name("ledger")
    create_ledger_table(dynamodb_local_client, name)
    return DynamoTradeLedger(dynamodb_local_client, name)


def test_the_report_is_the_adapters_booking(dynamo_ledger: DynamoTradeLedger) -> None:
    scenario = success_day()
    for plan, result in history_executions():
        dynamo_ledger.book_plan(plan, result)
    today = scenario.event.execution_data
    assert today is not None
    booking = dynamo_ledger.book_plan(today_plan(scenario.event.correlation_id, success_trades()), today)
    assert booking is not None and scenario.booking is not None
    assert booking.model_copy(update={"booked_at": scenario.booking.booked_at}) == scenario.booking  # as the pure one

    reports, emails = InMemoryReportStore(), RecordingEmailSender()
    service = NotificationService(
        emails=emails, reports=reports, ledger=dynamo_ledger, once=MemoryOnce(), mode_label="PAPER", stage="dev"
    )
    assert service.handle_event(scenario.event).action == "email_sent"
    body = reports.objects[report_key(TRADING_DATE, scenario.event.correlation_id)]
    frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    trades = frame[frame["section"] == "trade"]
    realised = sum((D(v) for v in trades["realised_pnl"] if v), D(0))
    assert realised == sum(booking.realised_by_owner().values(), D(0)) == D("25.50")
    positions = frame[frame["section"] == "position"]
    book = dynamo_ledger.load_book()
    for _, row in positions.iterrows():
        assert D(row["qty"]) == book.holding(row["strategy"], row["symbol"]).qty
    assert "P&L BY STRATEGY" in emails.sent[0].body and "UNATTRIBUTED" not in emails.sent[0].body
