"""Builds the notifications service from Settings (boto3 clients, ledger, idempotency), once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3

from the_alchemiser.notifications_v2.report_store import (
    S3ReportStore,
    s3_client_for_links,
    signs_with_temporary_credentials,
)
from the_alchemiser.notifications_v2.service import NotificationLedger, NotificationService
from the_alchemiser.shared.calendar import nyse_calendar
from the_alchemiser.shared.config.settings import Settings, get_settings
from the_alchemiser.shared.events import PayloadStore, S3PayloadStore
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.metrics import PowertoolsMetrics
from the_alchemiser.shared.notifications import SnsEmailSender
from the_alchemiser.shared.once import PowertoolsOnce

# the record ids of the emails already sent stay valid across deploys: never change this prefix
ONCE_KEY_PREFIX = "alchemiser.notifications_v2.once"


class MissingConfiguration(RuntimeError):
    """A variable notifications cannot work without is unset."""


@dataclass(frozen=True)
class NotificationsRuntime:
    service: NotificationService
    once: PowertoolsOnce
    payload_store: PayloadStore | None


def _require(value: str | None, variable: str) -> str:
    if not value:
        raise MissingConfiguration(f"{variable} is not set")
    return value


def trade_ledger_reader(settings: Settings, dynamodb_client: Any) -> NotificationLedger:
    """The DynamoDB trade ledger (read side): the booking and the lot book are the report's source of truth."""
    return DynamoTradeLedger(dynamodb_client, settings.trade_ledger_table_name)


def build_runtime(settings: Settings) -> NotificationsRuntime:
    sns = boto3.client("sns")
    s3 = s3_client_for_links()
    dynamodb = boto3.client("dynamodb")
    once = PowertoolsOnce.on_table(settings.idempotency_table_name, dynamodb, key_prefix=ONCE_KEY_PREFIX)
    secrets = [s.get_secret_value() for s in (settings.alpaca_api_key, settings.alpaca_secret_key) if s is not None]
    service = NotificationService(
        emails=SnsEmailSender(sns, _require(settings.sns_notification_topic_arn, "SNS_NOTIFICATION_TOPIC_ARN")),
        reports=S3ReportStore(
            s3,
            _require(settings.performance_reports_bucket, "PERFORMANCE_REPORTS_BUCKET"),
            temporary_credentials=signs_with_temporary_credentials(),
        ),
        ledger=trade_ledger_reader(settings, dynamodb),
        once=once,
        mode_label=settings.mode_label,
        stage=settings.stage,
        known_secrets=secrets,
        metrics=PowertoolsMetrics(settings.metrics_namespace),
        run_time_of=lambda day: nyse_calendar().run_time(day),
    )
    payload_store = S3PayloadStore(s3, settings.event_payloads_bucket) if settings.event_payloads_bucket else None
    return NotificationsRuntime(service=service, once=once, payload_store=payload_store)


@lru_cache(maxsize=1)
def get_runtime() -> NotificationsRuntime:
    settings = get_settings()
    configure_logging(settings.log_level)
    return build_runtime(settings)
