"""Execution's rules that need no market: closed market, stale plans, halts, no-trade plans, redelivery of
a finished plan, and the SQS handler's treatment of bad records and final failures. Real DynamoDB Local;
a scripted in-memory broker."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.fake_broker import FakeBroker
from tests.support.execution_v2.plans import TRADING_DATE, buy, hold, planned, sell, sqs_batch, sqs_event
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.lambda_handler import MAX_RECEIVE_COUNT, process_sqs_event
from the_alchemiser.execution_v2.service import ExecutionService, deterministic_event_id
from the_alchemiser.shared.broker.errors import BrokerUnavailableError
from the_alchemiser.shared.broker.models import Quote
from the_alchemiser.shared.events import InMemoryPublisher, TradeExecuted, WorkflowCompleted, WorkflowFailed
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.schemas import ExecutionStatus, OrderOutcome

pytestmark = pytest.mark.dynamodb_local
D = Decimal
FAST = ExecutionConfig(step_wait_seconds=1, poll_interval_seconds=1, market_wait_seconds=2, cancel_wait_seconds=1)


def quotes(*symbols: str) -> dict[str, Quote]:
    return {s: Quote(symbol=s, bid=D("99.95"), ask=D("100.05")) for s in symbols}


def service(broker: FakeBroker, ledger: DynamoTradeLedger, publisher: InMemoryPublisher) -> ExecutionService:
    return ExecutionService(broker, ledger, publisher, clock=VirtualWaitClock(), config=FAST)


def test_market_closed_places_nothing_and_says_so(ledger: DynamoTradeLedger) -> None:
    broker = FakeBroker(quotes=quotes("SPY", "QQQ"), positions={"QQQ": D(5)}, is_open=False)
    publisher = InMemoryPublisher()
    result = service(broker, ledger, publisher).execute(planned([buy("SPY", "3", "100"), sell("QQQ", "5", "100")]))
    assert broker.placed == []
    assert not result.market_open and result.status == ExecutionStatus.FAILURE
    assert {o.outcome for o in result.orders} == {OrderOutcome.SKIPPED}
    assert all("market closed" in (o.error or "") for o in result.orders)
    assert [e.event_type for e in publisher.events] == ["TradeExecuted", "WorkflowFailed"]
    failed = publisher.events[1]
    assert isinstance(failed, WorkflowFailed) and failed.failure_step == "execution"
    assert "market closed" in failed.failure_reason and failed.execution_data == result


def test_a_stale_plan_never_trades(ledger: DynamoTradeLedger) -> None:
    broker = FakeBroker(quotes=quotes("SPY"))
    publisher = InMemoryPublisher()
    event = planned([buy("SPY", "3", "100")], trading_date=TRADING_DATE.replace(day=19))
    result = service(broker, ledger, publisher).execute(event)
    assert broker.placed == [] and result.status == ExecutionStatus.FAILURE
    assert "stale plan" in (result.orders[0].error or "")


def test_a_halted_symbol_is_skipped_with_a_reason_and_the_rest_trades(ledger: DynamoTradeLedger) -> None:
    broker = FakeBroker(quotes=quotes("SPY", "HALT"), halted={"HALT"})
    publisher = InMemoryPublisher()
    result = service(broker, ledger, publisher).execute(planned([buy("SPY", "3", "100"), buy("HALT", "2", "100")]))
    assert {r.symbol for r in broker.placed} == {"SPY"}
    by_symbol = {o.symbol: o for o in result.orders}
    assert by_symbol["HALT"].outcome == OrderOutcome.SKIPPED and "not tradable" in (by_symbol["HALT"].error or "")
    assert by_symbol["SPY"].outcome == OrderOutcome.FILLED
    assert result.status == ExecutionStatus.PARTIAL
    completed = publisher.events[-1]
    assert isinstance(completed, WorkflowCompleted) and completed.success is False


def test_a_hold_only_plan_completes_without_orders(ledger: DynamoTradeLedger) -> None:
    broker = FakeBroker(quotes=quotes("SPY"))
    publisher = InMemoryPublisher()
    result = service(broker, ledger, publisher).execute(planned([hold("SPY")]))
    assert broker.placed == [] and result.status == ExecutionStatus.NO_TRADES
    completed = publisher.events[-1]
    assert isinstance(completed, WorkflowCompleted) and completed.success


def test_full_liquidation_sells_the_position_actually_held(ledger: DynamoTradeLedger) -> None:
    broker = FakeBroker(quotes=quotes("TLT"), positions={"TLT": D("7.123456789")})
    publisher = InMemoryPublisher()
    # the plan saw a rounded 7.12; the walk must sell exactly what is held, leaving nothing
    result = service(broker, ledger, publisher).execute(planned([sell("TLT", "7.12", "100", full=True)]))
    assert sum(r.qty or 0 for r in broker.placed if r.symbol == "TLT") >= D("7.123456789")
    assert broker.positions["TLT"] == 0
    assert result.orders[0].outcome == OrderOutcome.FILLED and result.orders[0].filled_qty == D("7.123456789")


def test_redelivery_of_a_finished_plan_places_and_publishes_nothing_new(ledger: DynamoTradeLedger) -> None:
    broker = FakeBroker(quotes=quotes("SPY"))
    publisher = InMemoryPublisher()
    event = planned([buy("SPY", "3", "100")])
    first = service(broker, ledger, publisher).execute(event)
    calls = len(broker.calls)
    again = service(broker, ledger, publisher).execute(event)
    assert len(broker.calls) == calls  # not even a read
    assert [e.event_type for e in publisher.events] == ["TradeExecuted", "WorkflowCompleted"]
    assert again.orders == first.orders
    assert publisher.events[0].event_id == deterministic_event_id(event.correlation_id, "TradeExecuted")


def test_a_malformed_record_fails_alone_and_never_orders(ledger: DynamoTradeLedger) -> None:
    broker = FakeBroker(quotes=quotes("SPY"))
    publisher = InMemoryPublisher()
    svc = service(broker, ledger, publisher)
    for body in ("not json", json.dumps({"detail": {"event_type": "RebalancePlanned"}}), json.dumps([1, 2])):
        response = process_sqs_event(sqs_batch(body, message_id="bad"), None, svc, None)
        assert response == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    other = planned([buy("SPY", "3", "100")]).model_dump(mode="json")
    wrong_type = json.dumps({"detail-type": "SignalGenerated", "detail": other})
    assert process_sqs_event(sqs_batch(wrong_type, message_id="w"), None, svc, None)["batchItemFailures"]
    assert broker.placed == [] and publisher.events == []


def test_the_handler_executes_a_good_record(ledger: DynamoTradeLedger) -> None:
    broker = FakeBroker(quotes=quotes("SPY"))
    publisher = InMemoryPublisher()
    response = process_sqs_event(
        sqs_event(planned([buy("SPY", "3", "100")])), None, service(broker, ledger, publisher), None
    )
    assert response == {"batchItemFailures": []}
    assert [e.event_type for e in publisher.events] == ["TradeExecuted", "WorkflowCompleted"]


class FlakyBroker(FakeBroker):
    def get_clock(self):  # type: ignore[no-untyped-def]
        raise BrokerUnavailableError("503 from the broker", status_code=503)


def test_failures_are_retried_and_the_last_delivery_reports_once(ledger: DynamoTradeLedger) -> None:
    broker = FlakyBroker(quotes=quotes("SPY"))
    publisher = InMemoryPublisher()
    svc = service(broker, ledger, publisher)
    event = planned([buy("SPY", "3", "100")])
    for count in range(1, MAX_RECEIVE_COUNT):
        response = process_sqs_event(sqs_event(event, receive_count=count), None, svc, None)
        assert response["batchItemFailures"] == [{"itemIdentifier": "m-1"}]
        assert publisher.events == []  # a retry is coming: no alarm yet
    response = process_sqs_event(sqs_event(event, receive_count=MAX_RECEIVE_COUNT), None, svc, None)
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-1"}]  # to the DLQ
    assert [e.event_type for e in publisher.events] == ["WorkflowFailed"]
    failed = publisher.events[0]
    assert isinstance(failed, WorkflowFailed) and "BrokerUnavailableError" in failed.failure_reason
    process_sqs_event(sqs_event(event, receive_count=MAX_RECEIVE_COUNT + 1), None, svc, None)
    assert len(publisher.of_type(WorkflowFailed)) == 1
    assert not publisher.of_type(TradeExecuted)


def test_a_failed_delivery_comes_back_soon_not_after_the_queues_fifteen_minutes(ledger: DynamoTradeLedger) -> None:
    """A transient failure at 15:31 retried after the 900 s visibility timeout would come back near the close:
    the handler asks for the message back after a short backoff instead (not on the last delivery)."""
    retries: list[float] = []
    svc = service(FlakyBroker(quotes=quotes("SPY")), ledger, InMemoryPublisher())
    event = planned([buy("SPY", "3", "100")])
    process_sqs_event(sqs_event(event), None, svc, None, retry_later=lambda record, seconds: retries.append(seconds))
    assert len(retries) == 1 and 0 < retries[0] <= 60


def test_failures_carried_by_a_resumed_message_count_towards_the_last_delivery(ledger: DynamoTradeLedger) -> None:
    """A message that continues an out-of-time plan carries the real failures before it: with two, its first
    receive is the last delivery and reports the failure."""
    publisher = InMemoryPublisher()
    svc = service(FlakyBroker(quotes=quotes("SPY")), ledger, publisher)
    batch: Any = sqs_event(planned([buy("SPY", "3", "100")]))
    batch["Records"][0]["messageAttributes"] = {
        "alchemiser-prior-failures": {"stringValue": str(MAX_RECEIVE_COUNT - 1), "dataType": "Number"}
    }
    assert process_sqs_event(batch, None, svc, None)["batchItemFailures"] == [{"itemIdentifier": "m-1"}]
    assert [e.event_type for e in publisher.events] == ["WorkflowFailed"]
