"""The messages a handler rejects: `rejecting(message_id)` wraps the parsing of one message.

A message that is malformed or fails validation (ValueError: pydantic's ValidationError and EventParseError
are ValueErrors) is logged at ERROR, `message_rejected`, with its reason and its id (SQS messageId,
EventBridge id, the scheduler's execution id, else the invocation's request id), and counted
(MessagesRejected, for MessagesRejectedAlarm), then raised on as before (retries, then the DLQ). Above
logging and metrics, so that neither imports the other back."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.logging.lambda_context import current_request_id
from the_alchemiser.shared.metrics import PowertoolsMetrics

REASON_LIMIT = 2000


def message_id_of(event: Any) -> str | None:
    """A message's id as its source names it; else the invocation's request id."""
    if isinstance(event, Mapping):
        for key in ("messageId", "id", "execution_id"):
            value = event.get(key)
            if isinstance(value, str) and value:
                return value
    return current_request_id()


def log_rejected(message_id: str | None, reason: str, **extra: Any) -> None:
    get_logger(__name__).error(
        "message_rejected",
        message_id=message_id,
        request_id=current_request_id(),
        reason=reason[:REASON_LIMIT],
        **extra,
    )
    # MessagesRejectedAlarm: minutes, not the DLQ alarm after every retry. The namespace straight from the
    # environment: a rejection may come from a process whose Settings do not validate.
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
    if namespace:
        PowertoolsMetrics(namespace).put("MessagesRejected", 1)


@contextmanager
def rejecting(message_id: str | None, **extra: Any) -> Iterator[None]:
    """Parse a message inside this block: a ValueError is logged as the message's rejection, then raised."""
    try:
        yield
    except ValueError as exc:
        log_rejected(message_id, f"{type(exc).__name__}: {exc}", **extra)
        raise
