"""Builds the execution service from Settings, once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3

from the_alchemiser.execution_v2.clock import SimulatedMarketWaitClock, SystemWaitClock
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.shared.config.settings import get_settings
from the_alchemiser.shared.events import EventBridgePublisher, PayloadStore, S3PayloadStore
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.metrics import PowertoolsMetrics


@lru_cache(maxsize=1)
def get_payload_store() -> PayloadStore | None:
    settings = get_settings()
    if not settings.event_payloads_bucket:
        return None
    return S3PayloadStore(boto3.client("s3"), settings.event_payloads_bucket)


@lru_cache(maxsize=1)
def get_sqs_client() -> Any:
    return boto3.client("sqs")


@lru_cache(maxsize=1)
def get_execution_service() -> ExecutionService:
    from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker

    settings = get_settings()
    configure_logging(settings.log_level)
    return ExecutionService(
        broker=AlpacaBroker.from_settings(settings),
        ledger=DynamoTradeLedger(boto3.client("dynamodb"), settings.trade_ledger_table_name),
        publisher=EventBridgePublisher(boto3.client("events"), settings.event_bus_name, get_payload_store()),
        clock=SimulatedMarketWaitClock(settings.sim_control_url) if settings.sim_control_url else SystemWaitClock(),
        metrics=PowertoolsMetrics(settings.metrics_namespace),
    )
