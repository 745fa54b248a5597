"""Builds the Signal Aggregator from Settings (boto3 clients, system clock), once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import boto3

from the_alchemiser.aggregator_v2.service import ONCE_KEY_PREFIX, AggregatorConfig, DeadlinePolicy, SignalAggregator
from the_alchemiser.shared.config.settings import Settings, get_settings
from the_alchemiser.shared.events import EventBridgePublisher, PayloadStore, S3PayloadStore
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.metrics import PowertoolsMetrics
from the_alchemiser.shared.once import PowertoolsOnce
from the_alchemiser.shared.sessions import AggregationSessionRepository


@dataclass(frozen=True)
class AggregatorRuntime:
    service: SignalAggregator
    once: PowertoolsOnce
    payload_store: PayloadStore | None  # resolves events published by pointer (over 200 KB)


def build_runtime(settings: Settings) -> AggregatorRuntime:
    store = (
        S3PayloadStore(boto3.client("s3"), settings.event_payloads_bucket) if settings.event_payloads_bucket else None
    )
    dynamodb = boto3.client("dynamodb")
    once = PowertoolsOnce.on_table(settings.idempotency_table_name, dynamodb, key_prefix=ONCE_KEY_PREFIX)
    service = SignalAggregator(
        sessions=AggregationSessionRepository(dynamodb, settings.aggregation_sessions_table_name),
        once=once,
        publisher=EventBridgePublisher(boto3.client("events"), settings.event_bus_name, store),
        clock=settings.clock(),
        config=AggregatorConfig(deadline_policy=DeadlinePolicy(settings.session_deadline_policy)),
        metrics=PowertoolsMetrics(settings.metrics_namespace),
    )
    return AggregatorRuntime(service=service, once=once, payload_store=store)


@lru_cache(maxsize=1)
def get_runtime() -> AggregatorRuntime:
    settings = get_settings()
    configure_logging(settings.log_level)
    return build_runtime(settings)
