"""The aggregation-session table on DynamoDB: every step that must happen once is a conditional write.

Layout (docs/decisions.md): session `pk=SESSION#<id>, sk=META`; partials `pk=SESSION#<id>,
sk=PARTIAL#<dsl_file>`; the workflow lock `pk=WORKFLOW#<stage>#<date>, sk=LOCK` (written together with
its session by `start_workflow`)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError

from the_alchemiser.shared.sessions.models import AggregationSession, PartialResult, SessionStatus
from the_alchemiser.shared.sessions.ports import OutcomeNotDecidedError, SessionExistsError

META = "META"
LOCK = "LOCK"
PARTIAL_PREFIX = "PARTIAL#"


def session_key(session_id: str) -> str:
    return f"SESSION#{session_id}"


def workflow_lock_key(stage: str, trading_date: date) -> str:
    return f"WORKFLOW#{stage}#{trading_date.isoformat()}"


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def create_sessions_table(client: Any, name: str) -> None:
    """The AggregationSessionsTable's key schema (as template.yaml declares it), for tests and the local stack."""
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


class AggregationSessionRepository:
    """The `SessionStore` on DynamoDB: sessions, partials and the per-day workflow lock, over a boto3
    `dynamodb` client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    # -- workflow lock -------------------------------------------------------------------------

    def start_workflow(self, session: AggregationSession, *, force: bool = False, replacing: str | None = None) -> bool:
        """Take the day's lock and create the session in one transaction, so neither exists without the
        other. False when the lock is held by someone else: with `replacing` (a forced rerun) the lock
        must still name that session, the one the caller found finished; without, it must be free."""
        lock: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                "pk": {"S": workflow_lock_key(session.stage, session.trading_date)},
                "sk": {"S": LOCK},
                "session_id": {"S": session.session_id},
                "correlation_id": {"S": session.correlation_id},
                "claimed_at": {"S": session.created_at.isoformat()},
                "forced": {"BOOL": force},
            },
        }
        if replacing is None:
            lock["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            lock["ConditionExpression"] = "session_id = :replacing"
            lock["ExpressionAttributeValues"] = {":replacing": {"S": replacing}}
        meta = {
            "TableName": self._table,
            "Item": {
                "pk": {"S": session_key(session.session_id)},
                "sk": {"S": META},
                "status": {"S": session.status.value},
                "body": {"S": session.model_dump_json()},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        try:
            self._db.transact_write_items(TransactItems=[{"Put": lock}, {"Put": meta}])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                raise SessionExistsError(f"session {session.session_id} already exists") from exc
            raise
        return True

    def workflow_holder(self, stage: str, trading_date: date) -> dict[str, str] | None:
        """Who holds the day's lock: {session_id, correlation_id, claimed_at}, or None."""
        response = self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": workflow_lock_key(stage, trading_date)}, "sk": {"S": LOCK}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        return {k: item[k]["S"] for k in ("session_id", "correlation_id", "claimed_at")}

    # -- sessions ------------------------------------------------------------------------------

    def create_session(self, session: AggregationSession) -> None:
        item = {
            "pk": {"S": session_key(session.session_id)},
            "sk": {"S": META},
            "status": {"S": session.status.value},
            "body": {"S": session.model_dump_json()},
        }
        try:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _conditional_failed(exc):
                raise SessionExistsError(f"session {session.session_id} already exists") from exc
            raise

    def get_session(self, session_id: str) -> AggregationSession | None:
        response = self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": session_key(session_id)}, "sk": {"S": META}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _session_from_item(item) if item else None

    def decide(
        self,
        session_id: str,
        status: SessionStatus,
        *,
        reason: str,
        outcome_event_json: str,
        decided_at: datetime,
    ) -> bool:
        """The one transition OPEN -> COMPLETED or FAILED, storing the outcome event to publish.
        False when the session was no longer OPEN: someone else decided first."""
        if status is SessionStatus.OPEN:
            raise ValueError("a decision ends the session: COMPLETED or FAILED")
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": session_key(session_id)}, "sk": {"S": META}},
                ConditionExpression="#status = :open",
                UpdateExpression=(
                    "SET #status = :status, decided_at = :at, outcome_reason = :reason, "
                    "outcome_event_json = :event, outcome_published = :false"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":open": {"S": SessionStatus.OPEN.value},
                    ":status": {"S": status.value},
                    ":at": {"S": decided_at.isoformat()},
                    ":reason": {"S": reason},
                    ":event": {"S": outcome_event_json},
                    ":false": {"BOOL": False},
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def mark_outcome_published(self, session_id: str) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": session_key(session_id)}, "sk": {"S": META}},
                ConditionExpression="attribute_exists(outcome_event_json)",
                UpdateExpression="SET outcome_published = :true",
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise OutcomeNotDecidedError(f"session {session_id} has no decided outcome") from exc
            raise

    # -- partials ------------------------------------------------------------------------------

    def record_partial(self, session_id: str, partial: PartialResult) -> bool:
        """Store a strategy's result once. False when one is already stored (a redelivery, or a retried
        worker's second event): the first one stands."""
        item = {
            "pk": {"S": session_key(session_id)},
            "sk": {"S": PARTIAL_PREFIX + partial.dsl_file},
            "success": {"BOOL": partial.success},
            "body": {"S": partial.model_dump_json()},
        }
        try:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def partials(self, session_id: str) -> dict[str, PartialResult]:
        """Every stored partial of a session, by strategy file (strongly consistent)."""
        results: dict[str, PartialResult] = {}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": session_key(session_id)}, ":prefix": {"S": PARTIAL_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            response = self._db.query(**kwargs)
            for item in response.get("Items", []):
                partial = PartialResult.model_validate_json(item["body"]["S"])
                results[partial.dsl_file] = partial
            last = response.get("LastEvaluatedKey")
            if not last:
                return results
            kwargs["ExclusiveStartKey"] = last


def _session_from_item(item: dict[str, Any]) -> AggregationSession:
    """The immutable body written at creation plus the mutable outcome attributes."""
    data = json.loads(item["body"]["S"])
    data["status"] = item["status"]["S"]
    for name in ("decided_at", "outcome_reason", "outcome_event_json"):
        if name in item:
            data[name] = item[name]["S"]
    if "outcome_published" in item:
        data["outcome_published"] = item["outcome_published"]["BOOL"]
    return AggregationSession.model_validate(data)
