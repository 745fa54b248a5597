"""Builds the Strategy Orchestrator from Settings (boto3 clients, system clock, NYSE calendar), once per process."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import boto3

from the_alchemiser.coordinator_v2.ports import LambdaWorkerInvoker, SqsDeadlineScheduler
from the_alchemiser.coordinator_v2.service import FORCED_RUN_KEY_PREFIX, OrchestratorConfig, StrategyOrchestrator
from the_alchemiser.shared.calendar import nyse_calendar
from the_alchemiser.shared.config.settings import Settings, get_settings
from the_alchemiser.shared.events import EventBridgePublisher, S3PayloadStore
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.once import PowertoolsOnce
from the_alchemiser.shared.sessions import AggregationSessionRepository


class MissingConfiguration(RuntimeError):
    """A variable the orchestrator cannot work without is unset."""


def _require(value: str | None, variable: str) -> str:
    if not value:
        raise MissingConfiguration(f"{variable} is not set")
    return value


def build_orchestrator(settings: Settings) -> StrategyOrchestrator:
    store = (
        S3PayloadStore(boto3.client("s3"), settings.event_payloads_bucket) if settings.event_payloads_bucket else None
    )
    dynamodb = boto3.client("dynamodb")
    return StrategyOrchestrator(
        sessions=AggregationSessionRepository(dynamodb, settings.aggregation_sessions_table_name),
        plans=DynamoTradeLedger(dynamodb, settings.trade_ledger_table_name),  # read only: execution's plan state
        once=PowertoolsOnce.on_table(settings.idempotency_table_name, dynamodb, key_prefix=FORCED_RUN_KEY_PREFIX),
        invoker=LambdaWorkerInvoker(
            boto3.client("lambda"), _require(settings.strategy_worker_function_name, "STRATEGY_WORKER_FUNCTION_NAME")
        ),
        deadlines=SqsDeadlineScheduler(
            boto3.client("sqs"), _require(settings.session_deadline_queue_url, "SESSION_DEADLINE_QUEUE_URL")
        ),
        publisher=EventBridgePublisher(boto3.client("events"), settings.event_bus_name, store),
        clock=settings.clock(),
        calendar=nyse_calendar(),
        config=OrchestratorConfig(
            stage=settings.stage,
            strategies_dir=settings.strategies_path,
            deadline=timedelta(seconds=settings.session_deadline_seconds),
        ),
    )


@lru_cache(maxsize=1)
def get_orchestrator() -> StrategyOrchestrator:
    settings = get_settings()
    configure_logging(settings.log_level)
    return build_orchestrator(settings)
