"""The Strategy Worker's `lambda_handler` as deployed: wiring from the environment, the project's strategy
files, the S3 datalake (moto) as market data, EventBridge (moto) and the sessions table (DynamoDB Local)."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.fixtures.aws import unique_name
from tests.support.coordinator_v2.aws_rig import LambdaEnvironment, fill_datalake, lambda_env  # noqa: F401  (a fixture)
from the_alchemiser.shared.config.settings import Settings
from the_alchemiser.shared.events import PartialSignalGenerated
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.schemas import StrategyWorkerRequest
from the_alchemiser.strategy_v2.dsl import load_strategy
from the_alchemiser.strategy_v2.lambda_handler import lambda_handler
from the_alchemiser.strategy_v2.wiring import MissingConfiguration
from the_alchemiser.strategy_v2.worker_service import trace_key

PROJECT_STRATEGIES = Settings().strategies_path
TRADING_DATE = date(2026, 11, 20)
AS_OF = date(2026, 11, 19)
MALFORMED = '(defsymphony "Broken" {}\n  (weight-equal [(asset "SPY" nil)\n'


def universe() -> list[str]:
    files = sorted(PROJECT_STRATEGIES.glob("*.clj"))
    return sorted(set().union(*(load_strategy(f).universe for f in files)))


def fill(datalake: Datalake, end: date) -> None:
    fill_datalake(datalake.s3, datalake.bucket, universe(), end)


@pytest.fixture
def worker_env(lambda_env: LambdaEnvironment, tmp_path: Path) -> tuple[LambdaEnvironment, Datalake]:  # noqa: F811
    strategies = tmp_path / "strategies"
    shutil.copytree(PROJECT_STRATEGIES, strategies)
    (strategies / "broken.clj").write_text(MALFORMED)
    bucket = unique_name("market-data")
    lambda_env.bus.s3.create_bucket(Bucket=bucket)
    lambda_env.set(STAGE="test", STRATEGIES_DIR=str(strategies), MARKET_DATA_BUCKET=bucket)
    return lambda_env, Datalake(lambda_env.bus.s3, bucket)


def request(dsl_file: str, allocation: str = "0.5", as_of: date = AS_OF) -> dict[str, Any]:
    payload = StrategyWorkerRequest(
        session_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()),
        dsl_file=dsl_file,
        strategy_number=1,
        total_strategies=3,
        allocation=Decimal(allocation),
        as_of=as_of,
        trading_date=TRADING_DATE,
        stage="test",
    ).model_dump_json()
    parsed: dict[str, Any] = json.loads(payload)  # what Lambda hands the handler: the JSON payload, parsed
    return parsed


def test_it_publishes_the_partial_and_stores_the_full_trace_in_s3(
    worker_env: tuple[LambdaEnvironment, Datalake],
) -> None:
    env, datalake = worker_env
    fill(datalake, AS_OF)
    event = request("nuclear.clj", allocation="0.5")
    result = lambda_handler(event, None)

    assert result["success"] is True
    [partial] = env.bus.received()
    assert isinstance(partial, PartialSignalGenerated) and partial.success
    assert partial.event_id == result["event_id"] and partial.correlation_id == event["correlation_id"]
    signal = partial.signals_data
    assert signal is not None and signal.as_of == AS_OF and signal.allocation == Decimal("0.5")
    assert sum(signal.weights.values()) == 1 and signal.trace_summary
    assert signal.trace_s3_key == trace_key(event["correlation_id"], "nuclear.clj")
    trace = json.loads(env.bus.s3.get_object(Bucket=env.bus.bucket, Key=signal.trace_s3_key)["Body"].read())
    assert trace["as_of"] == "2026-11-19" and trace["trace"] and trace["dsl_file"] == "nuclear.clj"


def test_a_warm_lambda_reads_todays_datalake_not_yesterdays(worker_env: tuple[LambdaEnvironment, Datalake]) -> None:
    env, datalake = worker_env
    fill(datalake, date(2026, 11, 18))  # the refresh has not run yet
    stale = lambda_handler(request("tecl.clj"), None)
    assert stale["success"] is False and "Stale" in str(stale["error_message"])
    [reported] = env.bus.received()
    assert isinstance(reported, PartialSignalGenerated) and not reported.success

    fill(datalake, AS_OF)  # the refresh ran; the same process (warm) serves the next invocation
    fresh = lambda_handler(request("tecl.clj"), None)
    assert fresh["success"] is True, fresh["error_message"]
    [published] = env.bus.received()
    assert isinstance(published, PartialSignalGenerated) and published.signals_data is not None
    assert published.signals_data.as_of == AS_OF


def test_a_malformed_file_is_reported_on_the_bus_not_raised(
    worker_env: tuple[LambdaEnvironment, Datalake],
) -> None:
    env, datalake = worker_env
    fill(datalake, AS_OF)
    event = request("broken.clj")
    result = lambda_handler(event, None)  # a retry would fail the same way: report, do not raise
    assert result["success"] is False and "broken.clj:2:17" in str(result["error_message"])
    [reported] = env.bus.received()
    assert isinstance(reported, PartialSignalGenerated) and reported.error_message == result["error_message"]
    # by its event alone: the aggregator is the only writer of the session table
    assert env.dynamodb.scan(TableName=env.sessions_table)["Items"] == []


MALFORMED_REQUESTS: list[Any] = [
    lambda e: {},
    lambda e: {k: v for k, v in e.items() if k != "session_id"},
    lambda e: {**e, "allocation": "half"},
    lambda e: {**e, "correlation_id": None},
    lambda e: {**e, "strategy_number": 0},
    lambda e: {**e, "as_of": "yesterday"},
    lambda e: {**e, "unexpected": True},
]


def test_malformed_requests_raise_so_they_reach_the_dead_letter_queue(
    worker_env: tuple[LambdaEnvironment, Datalake],
) -> None:
    env, _ = worker_env
    for number, mutate in enumerate(MALFORMED_REQUESTS):
        with pytest.raises(ValidationError):
            lambda_handler(mutate(request("klm.clj")), None)
        assert env.bus.received() == [], number
    assert env.dynamodb.scan(TableName=env.sessions_table)["Items"] == []


def test_without_market_data_configured_it_fails_loudly(worker_env: tuple[LambdaEnvironment, Datalake]) -> None:
    env, _ = worker_env
    env.monkeypatch.delenv("MARKET_DATA_BUCKET")
    env.set()
    with pytest.raises(MissingConfiguration, match="MARKET_DATA_BUCKET"):
        lambda_handler(request("klm.clj"), None)
