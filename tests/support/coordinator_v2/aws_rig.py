"""The fan-out/fan-in Lambdas as AWS runs them: env-built wiring, moto for EventBridge/S3/SQS/Lambda,
the real DynamoDB Local for the sessions table (its localhost endpoint passes through moto untouched).

`LambdaEnvironment` sets the variables template.yaml gives the functions, clears the per-process
caches (settings and runtimes), and lets a test call the real `lambda_handler(event, context)`."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.fixtures.aws import REGION, unique_name
from tests.fixtures.idempotency import create_idempotency_table
from tests.support.bus import Bus
from the_alchemiser.aggregator_v2 import wiring as aggregator_wiring
from the_alchemiser.coordinator_v2 import wiring as coordinator_wiring
from the_alchemiser.local.synthetic_market import generate_market
from the_alchemiser.shared.config import settings as settings_module
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.sessions import AggregationSessionRepository, create_sessions_table
from the_alchemiser.strategy_v2 import wiring as worker_wiring


def clear_process_caches() -> None:
    """What a cold start would rebuild: settings and each service's runtime."""
    settings_module.get_settings.cache_clear()
    coordinator_wiring.get_orchestrator.cache_clear()
    aggregator_wiring.get_runtime.cache_clear()
    worker_wiring.get_worker.cache_clear()


@dataclass
class LambdaEnvironment:
    bus: Bus
    dynamodb: Any  # a client on DynamoDB Local with the credentials the handlers will use
    sessions_table: str
    sessions: AggregationSessionRepository
    monkeypatch: pytest.MonkeyPatch
    deadline_queue_url: str  # the SessionDeadlineQueue

    def set(self, **variables: str) -> None:
        """Set variables and start 'cold': the next handler call rebuilds its wiring from them."""
        for name, value in variables.items():
            self.monkeypatch.setenv(name, value)
        clear_process_caches()

    def deadline_messages(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        response = self.bus.sqs.receive_message(
            QueueUrl=self.deadline_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, dynamodb_local: Any) -> Iterator[LambdaEnvironment]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint)
        bus = Bus()
        dynamodb = boto3.client("dynamodb", region_name=REGION)  # same credentials as the handlers' clients
        table = unique_name("sessions")
        create_sessions_table(dynamodb, table)
        idempotency_table = unique_name("idempotency")  # the shared exactly-once helper's records
        create_idempotency_table(dynamodb, idempotency_table)
        for name in ("STRATEGIES_DIR", "MARKET_DATA_DIR", "MARKET_DATA_BUCKET", "ALCHEMISER_LOCAL_CLOCK"):
            monkeypatch.delenv(name, raising=False)
        deadline_queue_url = bus.sqs.create_queue(QueueName=unique_name("deadlines"))["QueueUrl"]
        env = LambdaEnvironment(
            bus, dynamodb, table, AggregationSessionRepository(dynamodb, table), monkeypatch, deadline_queue_url
        )
        env.set(
            EVENT_BUS_NAME=bus.name,
            EVENT_PAYLOADS_BUCKET=bus.bucket,
            AGGREGATION_SESSIONS_TABLE_NAME=table,
            IDEMPOTENCY_TABLE_NAME=idempotency_table,
            LOG_LEVEL="INFO",
        )
        try:
            yield env
        finally:
            clear_process_caches()


def create_worker_function() -> str:
    """A Strategy Worker function on moto to invoke (moto runs no code without docker: it accepts the invoke)."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=unique_name("worker-role"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    name = unique_name("strategy-worker")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    return name


def record_invokes() -> list[dict[str, Any]]:
    """Every Lambda Invoke made by clients built from boto3's default session (as the wiring builds them)."""
    invokes: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        invokes.append(dict(params))

    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("provide-client-params.lambda.Invoke", record)
    return invokes


def fill_datalake(s3_client: Any, bucket: str, symbols: list[str], end: date, days: int = 260) -> None:
    """The synthetic market stored the way the data-refresh Lambda stores it (adjusted close = close)."""
    datalake = Datalake(s3_client, bucket)
    for symbol, frame in generate_market(symbols, end=end, days=days, seed=5).items():
        datalake.write(symbol, frame.assign(adjusted=frame["close"]))
