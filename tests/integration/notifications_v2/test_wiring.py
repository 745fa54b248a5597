"""The Lambda as deployed: `lambda_handler` builds everything from the environment (Settings):
the real DynamoDB ledger and Powertools table on DynamoDB Local, S3/SNS on moto, emails counted
at an SQS subscriber of the topic."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import boto3
import pandas as pd
import pytest
import requests

from tests.fixtures.aws import REGION, unique_name
from tests.fixtures.idempotency import create_idempotency_table
from tests.fixtures.notifications_v2 import SnsInbox
from tests.integration.notifications_v2.test_lambda_handler import FakeLambdaContext, envelope
from tests.support.notifications_v2.scenarios import (
    TRADING_DATE,
    history_executions,
    orchestrator_failure,
    success_day,
    success_trades,
    today_plan,
)
from the_alchemiser.notifications_v2 import wiring
from the_alchemiser.notifications_v2.lambda_handler import lambda_handler
from the_alchemiser.notifications_v2.report import report_key
from the_alchemiser.shared.config.settings import Settings, get_settings
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table

pytestmark = pytest.mark.dynamodb_local


@pytest.fixture
def deployed_environment(
    monkeypatch: pytest.MonkeyPatch, dynamodb_local: Any, dynamodb_local_client: Any, sns_inbox: SnsInbox
) -> Iterator[dict[str, Any]]:
    ledger_table, idempotency_table = unique_name("ledger"), unique_name("idempotency")
    create_ledger_table(dynamodb_local_client, ledger_table)
    create_idempotency_table(dynamodb_local_client, idempotency_table)
    bucket = unique_name("reports")
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    env = {
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint,  # DynamoDB Local; S3 and SNS stay on moto
        # DynamoDB Local keeps one namespace per access key id: the fixture's client uses "local"
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "SNS_NOTIFICATION_TOPIC_ARN": sns_inbox.topic_arn,
        "PERFORMANCE_REPORTS_BUCKET": bucket,
        "EVENT_PAYLOADS_BUCKET": bucket,
        "TRADE_LEDGER__TABLE_NAME": ledger_table,
        "IDEMPOTENCY_TABLE_NAME": idempotency_table,
        "PAPER_TRADING": "false",
        "STAGE": "prod",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # a cold start: boto3's default session caches the credentials it first resolved (moto's fake ones)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    get_settings.cache_clear()
    wiring.get_runtime.cache_clear()
    yield {**env, "inbox": sns_inbox}
    get_settings.cache_clear()
    wiring.get_runtime.cache_clear()


def test_lambda_handler_from_environment_sends_one_live_email(deployed_environment, dynamodb_local_client) -> None:
    scenario = success_day()
    ledger = DynamoTradeLedger(dynamodb_local_client, deployed_environment["TRADE_LEDGER__TABLE_NAME"])
    for order in scenario.ledger:
        ledger.record(order)
    for plan, result in history_executions():  # execution books each plan before it reports the outcome
        ledger.book_plan(plan, result)
    today = scenario.event.execution_data
    assert today is not None
    ledger.book_plan(today_plan(scenario.event.correlation_id, success_trades()), today)
    raw = envelope(scenario.event)
    first = lambda_handler(json.loads(json.dumps(raw)), FakeLambdaContext())
    second = lambda_handler(json.loads(json.dumps(raw)), FakeLambdaContext())
    assert (first["action"], second["action"]) == ("email_sent", "duplicate_skipped")
    key = report_key(TRADING_DATE, scenario.event.correlation_id)
    assert first["report_key"] == key

    (email,) = deployed_environment["inbox"].delivered()
    assert email.subject == "[LIVE] Alchemiser 2026-11-24: SUCCESS - 5 orders filled"
    assert "LIVE trading · stage prod" in email.body
    page_link, link = [line.strip() for line in email.body.splitlines() if line.strip().startswith("https://")]
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in link  # SigV4: valid up to 7 days
    # a Lambda signs with its role's session credentials (AWS_SESSION_TOKEN here): the email says the
    # link can end sooner and where the file stays
    bucket = deployed_environment["PERFORMANCE_REPORTS_BUCKET"]
    assert "link valid up to 7 days:" in email.body
    page_key = report_key(TRADING_DATE, scenario.event.correlation_id, "html")
    assert f"can stop working sooner; the files: s3://{bucket}/{page_key}, s3://{bucket}/{key})" in email.body
    # the page, from the DynamoDB ledger's book: today's equity is the last point of the curve
    page = requests.get(page_link, timeout=10)
    assert page.status_code == 200 and "Account equity to date" in page.text
    # the link downloads the CSV (moto intercepts `requests`); its totals are the DynamoDB ledger's
    response = requests.get(link, timeout=10)
    assert response.status_code == 200
    frame = pd.read_csv(io.BytesIO(response.content), dtype=str, keep_default_na=False)
    trades = frame[frame["section"] == "trade"]
    for kind, total in (("buy", today.total_buy_value), ("sell", today.total_sell_value)):
        assert sum((D(v) for k, v in zip(trades["kind"], trades["value"], strict=True) if k == kind), D(0)) == total
    assert set(trades["strategy"]) == {"klm.clj", "nuclear.clj", "tecl.clj"}  # BIL's sale is nuclear's


def test_configured_alpaca_credentials_never_reach_the_email(monkeypatch, deployed_environment) -> None:
    """Keys that match no pattern are still removed: the service knows the configured values."""
    monkeypatch.setenv("ALPACA_API_KEY", "my-paper-key")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "correct horse battery staple")
    get_settings.cache_clear()
    wiring.get_runtime.cache_clear()
    event = orchestrator_failure().event.model_copy(
        update={
            "failure_reason": "broker said 401 for my-paper-key / correct horse battery staple",
            "error_details": {"echo": "login my-paper-key:correct horse battery staple"},
        }
    )
    assert lambda_handler(envelope(event), FakeLambdaContext())["action"] == "email_sent"
    (email,) = deployed_environment["inbox"].delivered()
    for secret in ("my-paper-key", "correct horse battery staple"):
        assert secret not in email.body and secret not in (email.subject or "")
    assert "broker said 401 for *** / ***" in email.body


def test_missing_topic_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNS_NOTIFICATION_TOPIC_ARN", raising=False)
    with pytest.raises(wiring.MissingConfiguration, match="SNS_NOTIFICATION_TOPIC_ARN"):
        wiring.build_runtime(Settings(PERFORMANCE_REPORTS_BUCKET="b"))
