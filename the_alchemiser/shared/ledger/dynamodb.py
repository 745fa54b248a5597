"""The trade ledger and the plan state in one DynamoDB table (layout in docs/decisions.md).

Items, all keyed by the table's partition key `client_order_id`:
- an order: pk = the order's client_order_id; `correlation_id`, `symbol`, `placed_at` feed the
  `by-correlation` and `by-symbol` indexes; `order_json` is the full LedgerOrder.
- a strategy's view of an order, one per strategy in the order's attribution: pk
  `STRATEGY#<strategy>#<client_order_id>`, `strategy` + `strategy_placed_at` feed `by-strategy`. These
  carry no `correlation_id`/`symbol`/`placed_at`, so the other indexes stay sparse to orders.
- a plan's state: pk `PLAN#<correlation_id>`, one attribute per item / phase / published event, so
  concurrent workers update different attributes of the same item without read-modify-write; and the
  plan's lease (`lease_owner`, `lease_expires` in epoch seconds): one delivery works a plan at a time.
- the lot book (book.py): pk `BOOK#HEAD` (marks, first and last booking, the owners, a version) and one
  item per owner, pk `BOOK#OWNER#<owner>` (its holdings and lots, a version); each booked plan under pk
  `BOOKING#<correlation_id>`. A plan is booked in one transaction: the booking (written once) and every
  changed item, each conditioned on the version it was read at, so a redelivery books nothing twice
  and two concurrent bookings cannot both build on the same book.

Writes are upserts guarded by `updated_at` (an older view never overwrites a newer one), so a
redelivered message can record the same order again safely."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from the_alchemiser.shared.ledger.book import Book, Booking, Holding, book_plan, fills_of
from the_alchemiser.shared.ledger.models import LedgerOrder
from the_alchemiser.shared.ledger.plan_state import (
    PhaseResolution,
    PlanItemState,
    PlanItemStatus,
    PlanProgress,
    PlanState,
)
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.schemas.execution import ExecutionResult
from the_alchemiser.shared.schemas.rebalance import RebalancePlan
from the_alchemiser.shared.stamps import stamp_now

_log = get_logger(__name__)

PK = "client_order_id"
INDEX_BY_CORRELATION = "by-correlation"
INDEX_BY_SYMBOL = "by-symbol"
INDEX_BY_STRATEGY = "by-strategy"
PLAN_PREFIX = "PLAN#"
STRATEGY_PREFIX = "STRATEGY#"
BOOK_HEAD = "BOOK#HEAD"
BOOK_OWNER_PREFIX = "BOOK#OWNER#"
BOOKING_PREFIX = "BOOKING#"
BOOKING_ATTEMPTS = 5
MAX_ITEM_BYTES = 380_000  # DynamoDB's limit is 400 KB per item, attribute names included
_ITEM_ATTR = "ITEM#"
_PHASE_ATTR = "PHASE#"
_PUBLISHED_ATTR = "PUBLISHED#"


def create_ledger_table(client: Any, name: str) -> None:
    """Create the ledger table with its three indexes (on-demand) and wait until it is active."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": PK, "AttributeType": "S"},
            {"AttributeName": "correlation_id", "AttributeType": "S"},
            {"AttributeName": "symbol", "AttributeType": "S"},
            {"AttributeName": "placed_at", "AttributeType": "S"},
            {"AttributeName": "strategy", "AttributeType": "S"},
            {"AttributeName": "strategy_placed_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": PK, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            _gsi(INDEX_BY_CORRELATION, "correlation_id", PK),
            _gsi(INDEX_BY_SYMBOL, "symbol", "placed_at"),
            _gsi(INDEX_BY_STRATEGY, "strategy", "strategy_placed_at"),
        ],
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def _gsi(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def sortable_time(moment: datetime) -> str:
    """UTC, fixed width: compares correctly as a string (index sort keys, the upsert guard)."""
    if moment.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _is_condition_failure(exc: ClientError, also: tuple[str, ...] = ()) -> bool:
    """A condition said no (or, for codes in `also`, a transaction lost a race): not an error."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        codes = {reason.get("Code") for reason in reasons}
        if codes:
            return codes <= {"ConditionalCheckFailed", "None", *also}
        return "ConditionalCheckFailed" in str(error.get("Message", ""))
    return False


class DynamoTradeLedger:
    """TradeLedgerWriter + TradeLedgerReader + PlanStateStore + PlanProgressReader over one table (boto3 client)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- orders -------------------------------------------------------------------------------

    def record(self, order: LedgerOrder) -> None:
        body = order.model_dump_json()
        placed_at = sortable_time(order.placed_at)
        updated_at = sortable_time(order.updated_at)
        order_item: dict[str, Any] = {
            PK: {"S": order.client_order_id},
            "item_type": {"S": "ORDER"},
            "correlation_id": {"S": order.correlation_id},
            "symbol": {"S": order.symbol},
            "placed_at": {"S": placed_at},
            "updated_at": {"S": updated_at},
            "side": {"S": order.side},
            "status": {"S": order.status},
            "filled_qty": {"N": str(order.filled_qty)},
            "order_json": {"S": body},
        }
        if order.avg_fill_price is not None:
            order_item["avg_fill_price"] = {"N": str(order.avg_fill_price)}
        guard = {
            "ConditionExpression": f"attribute_not_exists({PK}) OR updated_at <= :updated_at",
            "ExpressionAttributeValues": {":updated_at": {"S": updated_at}},
        }
        puts: list[dict[str, Any]] = [{"Put": {"TableName": self._table, "Item": order_item, **guard}}]
        for strategy in sorted(order.strategy_attribution):
            puts.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            PK: {"S": f"{STRATEGY_PREFIX}{strategy}#{order.client_order_id}"},
                            "item_type": {"S": "STRATEGY_ORDER"},
                            "strategy": {"S": strategy},
                            "strategy_placed_at": {"S": f"{placed_at}#{order.client_order_id}"},
                            "updated_at": {"S": updated_at},
                            "order_json": {"S": body},
                        },
                        **guard,
                    }
                }
            )
        try:
            if len(puts) == 1:
                self._client.put_item(TableName=self._table, Item=order_item, **guard)
            else:
                for start in range(0, len(puts), 100):
                    self._client.transact_write_items(TransactItems=puts[start : start + 100])
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            # a newer view of this order is already stored: keep it

    def get_order(self, client_order_id: str) -> LedgerOrder | None:
        response = self._client.get_item(TableName=self._table, Key={PK: {"S": client_order_id}}, ConsistentRead=True)
        item = response.get("Item")
        return LedgerOrder.model_validate_json(item["order_json"]["S"]) if item else None

    def orders_for_correlation(self, correlation_id: str) -> list[LedgerOrder]:
        return self._query(INDEX_BY_CORRELATION, "correlation_id", correlation_id)

    def orders_for_symbol(self, symbol: str) -> list[LedgerOrder]:
        return self._query(INDEX_BY_SYMBOL, "symbol", symbol)

    def orders_for_strategy(self, strategy: str) -> list[LedgerOrder]:
        return self._query(INDEX_BY_STRATEGY, "strategy", strategy)

    def _query(self, index: str, attribute: str, value: str) -> list[LedgerOrder]:
        orders: list[LedgerOrder] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": attribute},
            "ExpressionAttributeValues": {":v": {"S": value}},
        }
        while True:
            response = self._client.query(**kwargs)
            orders.extend(LedgerOrder.model_validate_json(item["order_json"]["S"]) for item in response["Items"])
            last = response.get("LastEvaluatedKey")
            if not last:
                return orders
            kwargs["ExclusiveStartKey"] = last

    # --- plan state ---------------------------------------------------------------------------

    def start_plan(self, correlation_id: str, plan_id: str, started_at: str) -> PlanState:
        self._client.update_item(
            TableName=self._table,
            Key=self._plan_key(correlation_id),
            UpdateExpression=(
                "SET item_type = :type, "
                "plan_id = if_not_exists(plan_id, :plan), started_at = if_not_exists(started_at, :started)"
            ),
            ExpressionAttributeValues={
                ":type": {"S": "PLAN"},
                ":plan": {"S": plan_id},
                ":started": {"S": started_at},
            },
        )
        state = self.load_plan(correlation_id)
        if state is None:  # pragma: no cover - a strongly consistent read after our own write
            raise RuntimeError(f"plan state for {correlation_id} vanished after it was written")
        return state

    def load_plan(self, correlation_id: str) -> PlanState | None:
        response = self._client.get_item(TableName=self._table, Key=self._plan_key(correlation_id), ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        items: dict[str, PlanItemState] = {}
        phases: dict[str, PhaseResolution] = {}
        published: dict[str, str] = {}
        for name, value in item.items():
            if name.startswith(_ITEM_ATTR):
                state = PlanItemState.model_validate_json(value["M"]["state"]["S"])
                items[state.key] = state
            elif name.startswith(_PHASE_ATTR):
                phase = PhaseResolution.model_validate_json(value["S"])
                phases[phase.side] = phase
            elif name.startswith(_PUBLISHED_ATTR):
                published[name.removeprefix(_PUBLISHED_ATTR)] = value["S"]
        return PlanState(
            correlation_id=correlation_id,
            plan_id=item["plan_id"]["S"],
            started_at=item["started_at"]["S"],
            items=items,
            phases=phases,
            published=published,
            completed=item.get("completed", {}).get("BOOL", False),
        )

    def resolve_phase(self, correlation_id: str, resolution: PhaseResolution) -> PhaseResolution:
        attribute = f"{_PHASE_ATTR}{resolution.side}"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._plan_key(correlation_id),
                UpdateExpression="SET #p = :p",
                ConditionExpression="attribute_not_exists(#p)",
                ExpressionAttributeNames={"#p": attribute},
                ExpressionAttributeValues={":p": {"S": resolution.model_dump_json()}},
            )
            return resolution
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
        stored = self.load_plan(correlation_id)
        if stored is None or resolution.side not in stored.phases:  # pragma: no cover - condition said it exists
            raise RuntimeError(f"phase {resolution.side} of {correlation_id} is neither new nor stored")
        return stored.phases[resolution.side]

    def save_item(self, correlation_id: str, state: PlanItemState) -> None:
        value = {"M": {"status": {"S": state.status.value}, "state": {"S": state.model_dump_json()}}}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._plan_key(correlation_id),
            "UpdateExpression": "SET #i = :i",
            "ExpressionAttributeNames": {"#i": f"{_ITEM_ATTR}{state.key}"},
            "ExpressionAttributeValues": {":i": value},
        }
        if state.status != PlanItemStatus.DONE:
            kwargs["ConditionExpression"] = "attribute_not_exists(#i) OR #i.#s <> :done"
            kwargs["ExpressionAttributeNames"]["#s"] = "status"
            kwargs["ExpressionAttributeValues"][":done"] = {"S": PlanItemStatus.DONE.value}
        try:
            self._client.update_item(**kwargs)
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            # already DONE (another delivery finished it): keep the outcome

    def mark_published(self, correlation_id: str, event_type: str, event_id: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._plan_key(correlation_id),
            UpdateExpression="SET #e = :e",
            ExpressionAttributeNames={"#e": f"{_PUBLISHED_ATTR}{event_type}"},
            ExpressionAttributeValues={":e": {"S": event_id}},
        )

    def mark_completed(self, correlation_id: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._plan_key(correlation_id),
            UpdateExpression="SET completed = :t, completed_at = :now",
            ExpressionAttributeValues={":t": {"BOOL": True}, ":now": {"S": sortable_time(datetime.now(UTC))}},
        )

    def acquire_lease(self, correlation_id: str, owner: str, *, expires_at: float, now: float) -> float | None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._plan_key(correlation_id),
                # worked_until outlives the lease's release: how recently anything worked the plan
                UpdateExpression="SET lease_owner = :owner, lease_expires = :expires, worked_until = :expires",
                ConditionExpression=(
                    "attribute_not_exists(lease_owner) OR lease_expires <= :now OR lease_owner = :owner"
                ),
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":expires": {"N": repr(expires_at)},
                    ":now": {"N": repr(now)},
                },
            )
            return None
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
        item = self._client.get_item(
            TableName=self._table, Key=self._plan_key(correlation_id), ConsistentRead=True
        ).get("Item", {})
        held = item.get("lease_expires", {}).get("N")
        return float(held) if held is not None else now  # released meanwhile: try again at once

    def plan_progress(self, correlation_id: str) -> PlanProgress | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=self._plan_key(correlation_id),
            ConsistentRead=True,
            ProjectionExpression="started_at, completed, worked_until",
        ).get("Item")
        if not item or "started_at" not in item:
            return None
        worked = item.get("worked_until", {}).get("N")
        return PlanProgress(
            started_at=datetime.fromisoformat(item["started_at"]["S"]),
            completed=item.get("completed", {}).get("BOOL", False),
            worked_until=None if worked is None else datetime.fromtimestamp(float(worked), UTC),
        )

    def release_lease(self, correlation_id: str, owner: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._plan_key(correlation_id),
                UpdateExpression="REMOVE lease_owner, lease_expires",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise

    @staticmethod
    def _plan_key(correlation_id: str) -> dict[str, Any]:
        return {PK: {"S": f"{PLAN_PREFIX}{correlation_id}"}}

    # --- the lot book -------------------------------------------------------------------------

    def book_plan(self, plan: RebalancePlan, result: ExecutionResult) -> Booking | None:
        """Book what `plan` did (its fills in `result`) into the owners' lots, once per correlation id.
        Returns the booking (the stored one on a redelivery); None when the market was closed and
        nothing filled (nothing changed owner)."""
        fills = fills_of(result)
        if not fills and not result.market_open:
            return None
        for _ in range(BOOKING_ATTEMPTS):
            stored = self.booking(plan.correlation_id)
            if stored is not None:
                return stored
            book, versions = self._read_book()
            new_book, booking = book_plan(book, plan, fills, booked_at=stamp_now())
            try:
                self._write_booking(book, new_book, booking, versions)
            except ClientError as exc:
                if not _is_condition_failure(exc, also=("TransactionConflict",)):
                    raise
                _log.info("booking_conflict", correlation_id=plan.correlation_id, note="re-reading the book")
                continue
            _log.info(
                "plan_booked",
                correlation_id=plan.correlation_id,
                movements=len(booking.movements),
                realised={owner: str(value) for owner, value in booking.realised_by_owner().items()},
            )
            return booking
        raise RuntimeError(f"could not book {plan.correlation_id}: the book kept changing")

    def booking(self, correlation_id: str) -> Booking | None:
        item = self._client.get_item(
            TableName=self._table, Key={PK: {"S": f"{BOOKING_PREFIX}{correlation_id}"}}, ConsistentRead=True
        ).get("Item")
        return Booking.model_validate_json(item["booking_json"]["S"]) if item else None

    def load_book(self) -> Book:
        return self._read_book()[0]

    def _read_book(self) -> tuple[Book, dict[str, int]]:
        """The book and the version of each item it came from (HEAD and every owner)."""
        head = self._client.get_item(TableName=self._table, Key={PK: {"S": BOOK_HEAD}}, ConsistentRead=True).get("Item")
        if not head:
            return Book(), {}
        versions = {BOOK_HEAD: int(head["version"]["N"])}
        book = Book.model_validate_json(head["book_json"]["S"])
        owners = [value["S"] for value in head.get("owners", {}).get("L", [])]
        holdings: dict[str, dict[str, Holding]] = {}
        for owner in owners:  # a handful of owners: one consistent GetItem each (no BatchGetItem permission)
            item = self._client.get_item(
                TableName=self._table, Key={PK: {"S": f"{BOOK_OWNER_PREFIX}{owner}"}}, ConsistentRead=True
            ).get("Item")
            if item is None:
                raise RuntimeError(f"the lot book names {owner}, whose item is missing")
            versions[owner] = int(item["version"]["N"])
            holdings[owner] = {
                symbol: Holding.model_validate(value)
                for symbol, value in json.loads(item["holdings_json"]["S"]).items()
            }
        return book.model_copy(update={"holdings": holdings}), versions

    def _write_booking(self, old: Book, new: Book, booking: Booking, versions: dict[str, int]) -> None:
        now = {"S": sortable_time(booking.booked_at)}
        puts: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        PK: {"S": f"{BOOKING_PREFIX}{booking.correlation_id}"},
                        "item_type": {"S": "BOOKING"},
                        "trading_date": {"S": booking.trading_date.isoformat()},
                        "updated_at": now,
                        "booking_json": {"S": booking.model_dump_json()},
                    },
                    "ConditionExpression": f"attribute_not_exists({PK})",
                }
            }
        ]
        head = new.model_copy(update={"holdings": {}}).model_dump_json()
        puts.append(
            self._versioned_put(
                BOOK_HEAD,
                versions.get(BOOK_HEAD),
                {
                    "item_type": {"S": "BOOK"},
                    "book_json": {"S": head},
                    "owners": {"L": [{"S": owner} for owner in new.owners()]},
                    "updated_at": now,
                },
            )
        )
        for owner in new.owners():
            if new.holdings[owner] == old.holdings.get(owner):
                continue
            body = json.dumps(
                {symbol: holding.model_dump(mode="json") for symbol, holding in sorted(new.holdings[owner].items())}
            )
            if len(body) > MAX_ITEM_BYTES:
                raise RuntimeError(
                    f"the lots of {owner} ({len(body)} bytes) no longer fit one DynamoDB item: "
                    "split the owner item by symbol (docs/decisions.md, the lot book)"
                )
            puts.append(
                self._versioned_put(
                    f"{BOOK_OWNER_PREFIX}{owner}",
                    versions.get(owner),
                    {
                        "item_type": {"S": "BOOK_OWNER"},
                        "owner": {"S": owner},
                        "holdings_json": {"S": body},
                        "updated_at": now,
                    },
                )
            )
        if len(puts) > 100:
            raise RuntimeError(f"a booking touching {len(puts) - 2} owners exceeds DynamoDB's 100-item transaction")
        self._client.transact_write_items(TransactItems=puts)

    def _versioned_put(self, key: str, version: int | None, attributes: dict[str, Any]) -> dict[str, Any]:
        """A put that succeeds only if the item is still at the version it was read at."""
        condition: dict[str, Any]
        if version is None:
            condition = {"ConditionExpression": f"attribute_not_exists({PK})"}
        else:
            condition = {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": {"N": str(version)}},
            }
        item = {PK: {"S": key}, "version": {"N": str((version or 0) + 1)}, **attributes}
        return {"Put": {"TableName": self._table, "Item": item, **condition}}
