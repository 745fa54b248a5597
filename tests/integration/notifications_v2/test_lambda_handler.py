"""The Lambda entry point end to end: EventBridge envelope -> outcome event -> report in S3 -> one email.

S3, SNS and the SQS subscriber that counts emails are moto; the idempotency table is the real
DynamoDB Local; the ledger is in memory (test_report_on_dynamo_ledger.py and test_wiring.py use
the DynamoDB ledger). The presigned link is fetched with `requests`, which moto intercepts."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import boto3
import pandas as pd
import pytest
import requests

from tests.fixtures.aws import REGION, unique_name
from tests.fixtures.notifications_v2 import SnsInbox
from tests.support.notifications_v2.ledger_memory import InMemoryTradeLedger
from tests.support.notifications_v2.scenarios import TRADING_DATE, success_day
from the_alchemiser.notifications_v2.lambda_handler import handle
from the_alchemiser.notifications_v2.report import report_key
from the_alchemiser.notifications_v2.report_store import S3ReportStore, s3_client_for_links
from the_alchemiser.notifications_v2.service import NotificationService
from the_alchemiser.notifications_v2.wiring import NotificationsRuntime
from the_alchemiser.shared.events import BaseEvent, S3PayloadStore, TradeExecuted, encode_detail
from the_alchemiser.shared.notifications import SnsEmailSender
from the_alchemiser.shared.once import PowertoolsOnce

pytestmark = pytest.mark.dynamodb_local


class FakeLambdaContext:
    function_name = "alchemiser-dev-notifications"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def envelope(event: BaseEvent, detail: Any = None, event_id: str | None = None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or f"eb-{event.event_id}",
        "detail-type": event.event_type,
        "source": event.source,
        "account": "123456789012",
        "time": event.timestamp.isoformat().replace("+00:00", "Z"),
        "region": REGION,
        "resources": [],
        "detail": json.loads(event.model_dump_json()) if detail is None else detail,
    }


def trade_executed_for(completed: Any) -> TradeExecuted:
    result = completed.execution_data
    return TradeExecuted(
        event_id=f"trade-{completed.correlation_id}",
        correlation_id=completed.correlation_id,
        causation_id="rebalance-planned",
        timestamp=completed.timestamp - timedelta(seconds=1),
        source_module="execution_v2",
        source_component="ExecutionService",
        execution_data=result,
        orders_placed=result.orders_placed,
        orders_succeeded=result.orders_succeeded,
        consolidated_portfolio=completed.consolidated_portfolio,
    )


def build_runtime(
    s3: Any, sns: Any, bucket: str, topic_arn: str, ledger: InMemoryTradeLedger, once: PowertoolsOnce
) -> NotificationsRuntime:
    service = NotificationService(
        emails=SnsEmailSender(sns, topic_arn),
        reports=S3ReportStore(s3, bucket),
        ledger=ledger,
        once=once,
        mode_label="PAPER",
        stage="dev",
    )
    return NotificationsRuntime(service=service, once=once, payload_store=S3PayloadStore(s3, bucket))


@pytest.fixture
def aws_runtime(
    moto_aws: None, sns_inbox: SnsInbox, powertools_once: PowertoolsOnce
) -> Iterator[tuple[NotificationsRuntime, Any, str, SnsInbox, InMemoryTradeLedger]]:
    s3 = s3_client_for_links(region_name=REGION)
    bucket = unique_name("reports")
    s3.create_bucket(Bucket=bucket)
    scenario = success_day()
    ledger = InMemoryTradeLedger(scenario.ledger, scenario.book, [scenario.booking] if scenario.booking else [])
    sns = boto3.client("sns", region_name=REGION)
    runtime = build_runtime(s3, sns, bucket, sns_inbox.topic_arn, ledger, powertools_once)
    yield runtime, s3, bucket, sns_inbox, ledger


def test_trade_executed_then_completed_then_redelivery(aws_runtime) -> None:
    """TradeExecuted carries what the outcome carries: acknowledged, nothing read or written. The outcome
    writes the one report and sends the one email; its redelivery does neither again."""
    runtime, s3, bucket, inbox, ledger = aws_runtime
    completed = success_day().event
    context = FakeLambdaContext()
    key = report_key(TRADING_DATE, completed.correlation_id)

    trade_result = handle(envelope(trade_executed_for(completed)), context, runtime)
    assert trade_result == {"action": "ignored", "correlation_id": completed.correlation_id}
    assert ledger.reads == 0 and inbox.delivered() == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0

    outcome = handle(envelope(completed), context, runtime)
    assert outcome["action"] == "email_sent" and outcome["report_key"] == key
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    trades = pd.read_csv(io.BytesIO(body), dtype=str).query("section == 'trade'")
    bought = sum((D(v) for k, v in zip(trades["kind"], trades["value"], strict=True) if k == "buy"), D(0))
    assert bought == completed.execution_data.total_buy_value  # cents already: 8001.70
    modified = s3.head_object(Bucket=bucket, Key=key)["LastModified"]

    assert handle(envelope(completed), context, runtime)["action"] == "duplicate_skipped"
    assert s3.head_object(Bucket=bucket, Key=key)["LastModified"] == modified
    (email,) = inbox.delivered()
    subject, message = email.subject, email.body
    assert subject == "[PAPER] Alchemiser 2026-11-24: SUCCESS - 5 orders filled"
    assert "X-Amz-Signature=" in message and f"/{key}" in message
    assert f"Correlation id: {completed.correlation_id}" in message


def test_outcome_first_still_writes_the_report(aws_runtime) -> None:
    """EventBridge does not order deliveries: the outcome email makes sure the report exists."""
    runtime, s3, bucket, _, _ = aws_runtime
    completed = success_day().event
    assert handle(envelope(completed), FakeLambdaContext(), runtime)["action"] == "email_sent"
    key = report_key(TRADING_DATE, completed.correlation_id)
    assert s3.head_object(Bucket=bucket, Key=key)["ContentType"].startswith("text/csv")


def test_oversized_event_arrives_as_a_pointer(aws_runtime) -> None:
    runtime, s3, bucket, inbox, _ = aws_runtime
    completed = success_day().event
    completed = completed.model_copy(update={"summary": {"padding": "x" * 300_000}})
    detail = json.loads(encode_detail(completed, S3PayloadStore(s3, bucket)))
    assert "payload_key" in detail
    assert handle(envelope(completed, detail=detail), FakeLambdaContext(), runtime)["action"] == "email_sent"
    assert len(inbox.delivered()) == 1


def test_malformed_event_emails_operators_once(aws_runtime) -> None:
    runtime, _, _, inbox, _ = aws_runtime
    completed = success_day().event
    broken = json.loads(completed.model_dump_json())
    del broken["success"]
    broken["api_key"] = "PKX7QZ3L9ARTW2Y8M4NB"
    raw = envelope(completed, detail=broken, event_id="eb-broken-1")
    results = [handle(raw, FakeLambdaContext(), runtime) for _ in range(2)]
    assert [r["action"] for r in results] == ["malformed_alerted", "duplicate_skipped"]
    (email,) = inbox.delivered()
    subject, message = email.subject, email.body
    assert subject == "[PAPER] Alchemiser: FAILED - notifications could not read WorkflowCompleted"
    assert "PKX7QZ3L9ARTW2Y8M4NB" not in message
    assert "eb-broken-1" in message


def test_not_an_eventbridge_envelope_is_a_malformed_alert(aws_runtime) -> None:
    runtime, _, _, inbox, _ = aws_runtime
    result = handle({"hello": "world"}, FakeLambdaContext(), runtime)
    assert result["action"] == "malformed_alerted"
    assert len(inbox.delivered()) == 1


def test_ledger_outage_still_sends_the_email_and_says_so(aws_runtime) -> None:
    runtime, _, _, inbox, ledger = aws_runtime
    ledger.fail_with = TimeoutError("ledger read timed out")
    completed = success_day().event
    assert handle(envelope(completed), FakeLambdaContext(), runtime)["action"] == "email_sent"
    (email,) = inbox.delivered()
    message = email.body
    assert "No CSV report: the trade ledger could not be read (TimeoutError: ledger read timed out)" in message
    assert "SUCCESS — 5 orders filled" in message  # the event itself still tells the day


def test_presigned_links_download_the_csv_and_open_the_page(aws_runtime) -> None:
    """The links in the email, fetched like a mail client would: a plain HTTP GET with no AWS credentials
    (moto answers `requests` calls to S3 URLs inside mock_aws). The page opens in the browser (inline
    HTML), the CSV downloads."""
    runtime, s3, bucket, inbox, _ = aws_runtime
    completed = success_day().event
    handle(envelope(completed), FakeLambdaContext(), runtime)
    (email,) = inbox.delivered()
    message = email.body
    page_link, link = [line.strip() for line in message.splitlines() if line.strip().startswith("https://")]
    assert "X-Amz-Expires=604800" in link and "X-Amz-Expires=604800" in page_link
    page = requests.get(page_link, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Content-Disposition"].startswith("inline")
    assert page.text.startswith("<!DOCTYPE html>") and "Daily report 2026-11-24" in page.text
    assert (
        page.content
        == s3.get_object(Bucket=bucket, Key=report_key(TRADING_DATE, completed.correlation_id, "html"))["Body"].read()
    )
    response = requests.get(link, timeout=10)
    assert response.status_code == 200
    key = report_key(TRADING_DATE, completed.correlation_id)
    assert response.content == s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    trades = pd.read_csv(io.BytesIO(response.content), dtype=str).query("section == 'trade'")
    assert sum((D(v) for v in trades["realised_pnl"].dropna()), D(0)) == D("25.50")


def test_event_time_zone_for_a_workflow_without_ledger_or_date() -> None:
    """Late evening in New York is already tomorrow in UTC: the date comes from New York."""
    from the_alchemiser.notifications_v2.service import resolve_trading_date

    late = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert resolve_trading_date(None, None, late).isoformat() == "2026-11-24"
