"""Signs are checked at the edge (issue 14, finding 8): a plan item's quantity is positive and its trade
value's sign matches its action. A BUY of -5 (or of -$500) is refused by the event schema, so the message
is rejected (record failed -> retries -> DLQ) and never becomes an order; before, `abs()` bought 5."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.fake_broker import FakeBroker
from tests.support.execution_v2.plans import buy, planned, sell, sqs_batch, sqs_event
from the_alchemiser.execution_v2.lambda_handler import process_sqs_event
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.shared.broker.models import Quote
from the_alchemiser.shared.events import InMemoryPublisher
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.schemas import RebalancePlanItem

D = Decimal


def item(**changes: Any) -> dict[str, Any]:
    return buy("SPY", "5", "100").model_dump(mode="json") | changes


@pytest.mark.parametrize(
    "changes",
    [
        {"quantity": "-5"},
        {"quantity": "0"},
        {"trade_value": "-500"},
        {"trade_value": "0"},
        {"action": "SELL"},  # a sell of +$500
        {"action": "SELL", "trade_value": "-500", "quantity": "-5"},
        {"action": "HOLD", "quantity": None},  # a hold that trades $500
        {"price": "-100"},
        {"price": "0"},
        {"current_qty": "-1"},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_a_plan_item_with_a_sign_inconsistent_with_its_action_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RebalancePlanItem.model_validate(item(**changes))


def test_consistent_items_are_accepted() -> None:
    RebalancePlanItem.model_validate(item())
    RebalancePlanItem.model_validate(item(quantity=None))  # by notional
    RebalancePlanItem.model_validate(sell("QQQ", "3", "100").model_dump(mode="json"))
    RebalancePlanItem.model_validate(item(action="HOLD", quantity=None, trade_value="0", skipped_trade_value="-3.5"))


@pytest.mark.dynamodb_local
@pytest.mark.parametrize("changes", [{"quantity": "-5"}, {"quantity": None, "trade_value": "-500"}])
def test_a_malformed_plan_on_the_queue_is_rejected_and_never_an_order(
    changes: dict[str, Any], ledger: DynamoTradeLedger
) -> None:
    event = planned([buy("SPY", "5", "100")])
    body = json.loads(sqs_event(event)["Records"][0]["body"])  # type: ignore[index]
    body["detail"]["rebalance_plan"]["items"][0].update(changes)
    broker = FakeBroker(quotes={"SPY": Quote(symbol="SPY", bid=D("99.95"), ask=D("100.05"))})
    publisher = InMemoryPublisher()
    service = ExecutionService(broker, ledger, publisher, clock=VirtualWaitClock())
    response = process_sqs_event(sqs_batch(json.dumps(body)), None, service, None)
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-1"}]
    assert broker.placed == [] and publisher.events == []
