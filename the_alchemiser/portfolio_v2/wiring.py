"""Builds the portfolio service from Settings (boto3 clients, the Alpaca broker), once per process."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import boto3

from the_alchemiser.portfolio_v2.core.planner import PlannerConfig, RebalancePlanner
from the_alchemiser.portfolio_v2.service import OncePerCorrelation, PortfolioService
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.calendar import Clock
from the_alchemiser.shared.config.settings import Settings, get_settings
from the_alchemiser.shared.events import EventBridgePublisher, PayloadStore, S3PayloadStore
from the_alchemiser.shared.logging import configure_logging


@dataclass(frozen=True)
class PortfolioRuntime:
    service: OncePerCorrelation
    payload_store: PayloadStore | None  # resolves SignalGenerated published by pointer (over 200 KB)


def alpaca_broker_factory(settings: Settings) -> Callable[[], BrokerPort]:
    """The real broker, built on first use (imported lazily: alpaca-py is only needed when trading)."""

    def build() -> BrokerPort:
        from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker

        return AlpacaBroker.from_settings(settings)

    return build


# Half a percent stays in cash: buys fill up to the far touch, so a plan sized to every last dollar of
# cash would always be trimmed at execution (and a failed trim is a failed buy).
DEPLOYED_PLANNER = PlannerConfig(deployment_fraction=Decimal("0.995"))


def planner_config_from(settings: Settings) -> PlannerConfig:
    """The deployed planner, with MIN_TRADE_VALUE when it is set."""
    if settings.min_trade_value is None:
        return DEPLOYED_PLANNER
    return dataclasses.replace(DEPLOYED_PLANNER, min_trade_value=settings.min_trade_value)


def build_runtime(
    settings: Settings,
    *,
    broker_factory: Callable[[], BrokerPort] | None = None,
    events_client: Any = None,
    s3_client: Any = None,
    dynamodb_client: Any = None,
    clock: Clock | None = None,
    planner_config: PlannerConfig | None = None,
) -> PortfolioRuntime:
    """Everything defaults to the real thing from Settings; tests and the local stack pass their own."""
    store: PayloadStore | None = None
    if settings.event_payloads_bucket:
        store = S3PayloadStore(s3_client or boto3.client("s3"), settings.event_payloads_bucket)
    service = PortfolioService(
        broker_factory or alpaca_broker_factory(settings),
        EventBridgePublisher(events_client or boto3.client("events"), settings.event_bus_name, store),
        planner=RebalancePlanner(planner_config or planner_config_from(settings)),
        clock=clock or settings.clock(),
    )
    once = OncePerCorrelation.on_table(
        service, settings.idempotency_table_name, dynamodb_client or boto3.client("dynamodb")
    )
    return PortfolioRuntime(service=once, payload_store=store)


@lru_cache(maxsize=1)
def get_runtime() -> PortfolioRuntime:
    settings = get_settings()
    configure_logging(settings.log_level)
    return build_runtime(settings)
