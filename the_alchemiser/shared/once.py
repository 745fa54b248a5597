"""Exactly once per key: the one helper every service uses to publish (or send) an outcome once, with
Powertools idempotency on DynamoDB (IdempotencyTable: pk `id`, TTL `expiration`).

`run(key, work)` calls `work` the first time a key is seen and stores what it returned (a JSON object);
every later call with that key returns the stored value with `replayed=True` and does nothing. Work that
raises deletes its in-progress record (Powertools), so a retry runs it again: a failure is never mistaken
for a duplicate. While one call is still working a key, another raises Powertools'
`IdempotencyAlreadyInProgressError` (its delivery is retried later, when it is a plain replay); with the
invocation's Lambda context registered, an in-progress record left by a crash expires with that
invocation, so the retry can run.

The record id is `<key_prefix>#md5(key)`: a fixed prefix per use, so renaming or redeploying a function
never reruns old work. Which hop uses which key: docs/decisions.md, "Exactly once, hop by hop"."""

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
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

# EventBridge retries for up to 24 hours; a week is a comfortable margin
DEFAULT_RECORD_LIFETIME = timedelta(days=7)

Work = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class OnceResult:
    value: dict[str, Any]
    replayed: bool  # True when the work had already run for this key: nothing was done now


class OncePerKey(Protocol):
    def run(self, key: str, work: Work) -> OnceResult: ...

    def register_lambda_context(self, context: Any) -> None: ...


def _call(work: Work, *, once: dict[str, str]) -> dict[str, Any]:
    return {"value": work(), "replayed": False}


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True}


def _stored_value(outcome: dict[str, Any]) -> dict[str, Any]:
    if "value" in outcome:
        return dict(outcome["value"])
    # a record written before this helper by portfolio_v2 (the outcome itself, with its own flag); such
    # records expire within DEFAULT_RECORD_LIFETIME, after which this branch can go
    return {k: v for k, v in outcome.items() if k != "replayed"}


class PowertoolsOnce:
    """`OncePerKey` on Powertools' persistence. One persistence layer per helper: Powertools configures a
    layer once, with the first config it sees, so a shared one would silently use another's lifetime."""

    def __init__(
        self,
        persistence: BasePersistenceLayer,
        *,
        key_prefix: str,
        lifetime: timedelta = DEFAULT_RECORD_LIFETIME,
    ) -> None:
        self.key_prefix = key_prefix
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
            key_prefix=key_prefix,
        )

    @classmethod
    def on_table(
        cls,
        table_name: str,
        dynamodb_client: Any,
        *,
        key_prefix: str,
        lifetime: timedelta = DEFAULT_RECORD_LIFETIME,
    ) -> PowertoolsOnce:
        persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb_client)
        return cls(persistence, key_prefix=key_prefix, lifetime=lifetime)

    def register_lambda_context(self, context: Any) -> None:
        """Lets an in-progress record expire with the invocation, so a crashed attempt can be retried."""
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            self._config.register_lambda_context(context)

    def run(self, key: str, work: Work) -> OnceResult:
        outcome = self._run(work, once={"key": key})
        return OnceResult(value=_stored_value(outcome), replayed=bool(outcome.get("replayed", False)))
