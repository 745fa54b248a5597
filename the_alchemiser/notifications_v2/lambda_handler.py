"""Notifications Lambda: EventBridge `TradeExecuted`, `WorkflowCompleted`, `WorkflowFailed`.

Thin: parse the envelope and the event, call the service, return what it did. An event that cannot
be parsed gets one operator email (per EventBridge event id) instead of retries that cannot help;
transient errors (ledger, S3, SNS) raise so the invocation is retried."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ValidationError

from the_alchemiser.notifications_v2.wiring import NotificationsRuntime, get_runtime
from the_alchemiser.shared.events import EventParseError, decode_event
from the_alchemiser.shared.logging import with_lambda_context
from the_alchemiser.shared.rejections import log_rejected


def _envelope_id(event: Any) -> str:
    if isinstance(event, dict) and isinstance(event.get("id"), str) and event["id"]:
        return str(event["id"])
    raw = json.dumps(event, sort_keys=True, default=str).encode()
    return "sha256-" + hashlib.sha256(raw).hexdigest()[:32]


def handle(event: Any, context: Any, runtime: NotificationsRuntime) -> dict[str, Any]:
    runtime.once.register_lambda_context(context)
    try:
        envelope = EventBridgeModel.model_validate(event)
        detail = envelope.detail if isinstance(envelope.detail, dict) else {}
        parsed = decode_event(detail, runtime.payload_store)
    except (ValidationError, EventParseError) as exc:
        raw = event if isinstance(event, dict) else {}
        log_rejected(_envelope_id(event), f"{type(exc).__name__}: {exc}", source="eventbridge")
        return runtime.service.alert_malformed_event(
            envelope_id=_envelope_id(event),
            detail_type=str(raw.get("detail-type")) if raw.get("detail-type") else None,
            source=str(raw.get("source")) if raw.get("source") else None,
            error=f"{type(exc).__name__}: {exc}",
        ).as_dict()
    return runtime.service.handle_event(parsed).as_dict()


@with_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context, get_runtime())
