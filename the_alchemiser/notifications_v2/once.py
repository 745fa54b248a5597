"""At most once per key (one email per workflow outcome), with Powertools idempotency on DynamoDB.

The key is hashed into Powertools' record id under a fixed prefix, so renaming a function or
deploying it under another name never re-sends old emails. A failure inside the work deletes the
in-progress record (Powertools), so a retry sends; a success stores the result, so a redelivery
gets that result back and sends nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

# EventBridge retries for up to 24 hours; a week is a comfortable margin
DEFAULT_RECORD_LIFETIME = timedelta(days=7)
KEY_PREFIX = "alchemiser.notifications_v2.once"

Work = Callable[[], dict[str, str]]


@dataclass(frozen=True)
class OnceResult:
    value: dict[str, str]
    replayed: bool  # True when the work had already run for this key: nothing was done now


class OncePerKey(Protocol):
    def run(self, key: str, work: Work) -> OnceResult: ...


def _call(work: Work, *, once: dict[str, str]) -> dict[str, Any]:
    return {"value": work(), "replayed": False}


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True}


class PowertoolsOnce:
    """`OncePerKey` on Powertools' DynamoDB persistence (IdempotencyTable: pk `id`, TTL `expiration`)."""

    def __init__(self, persistence: DynamoDBPersistenceLayer, lifetime: timedelta = DEFAULT_RECORD_LIFETIME) -> None:
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=int(lifetime.total_seconds()),
            response_hook=_mark_replayed,
        )
        self._run = idempotent_function(
            _call,
            data_keyword_argument="once",
            persistence_store=persistence,
            config=self._config,
            key_prefix=KEY_PREFIX,
        )

    @classmethod
    def on_table(
        cls, table_name: str, dynamodb_client: Any, lifetime: timedelta = DEFAULT_RECORD_LIFETIME
    ) -> PowertoolsOnce:
        return cls(DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb_client), lifetime)

    def register_lambda_context(self, context: Any) -> None:
        """Lets an in-progress record expire with the invocation, so a crashed attempt can be retried."""
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            self._config.register_lambda_context(context)

    def run(self, key: str, work: Work) -> OnceResult:
        outcome = self._run(work, once={"key": key})
        return OnceResult(value=dict(outcome["value"]), replayed=bool(outcome.get("replayed", False)))
