"""A redelivered outcome event sends no second email: Powertools idempotency on the real DynamoDB
Local, SNS on moto, and the emails counted where a subscriber gets them (an SQS queue subscribed
to the topic)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from tests.fixtures.aws import REGION
from tests.fixtures.notifications_v2 import SnsInbox
from tests.support.notifications_v2.helpers import build_service
from tests.support.notifications_v2.scenarios import deadline_missing_strategies, success_day
from the_alchemiser.notifications_v2.wiring import ONCE_KEY_PREFIX
from the_alchemiser.shared.notifications import EmailMessage, SnsEmailSender
from the_alchemiser.shared.once import PowertoolsOnce

pytestmark = pytest.mark.dynamodb_local


class FlakySender:
    """SNS that fails the first `failures` sends (a throttle, a network blip)."""

    def __init__(self, inner: SnsEmailSender, failures: int) -> None:
        self._inner = inner
        self._failures = failures

    def send(self, message: EmailMessage) -> str:
        if self._failures:
            self._failures -= 1
            raise ConnectionError("SNS endpoint unreachable")
        return self._inner.send(message)


def sns_sender(inbox: SnsInbox) -> SnsEmailSender:
    return SnsEmailSender(boto3.client("sns", region_name=REGION), inbox.topic_arn)


def test_redelivered_outcome_event_sends_no_second_email(
    powertools_once: PowertoolsOnce, sns_inbox: SnsInbox, dynamodb_local_client: Any, idempotency_table: str
) -> None:
    scenario = success_day()
    service, _, _, _ = build_service(scenario.ledger, emails=sns_sender(sns_inbox), once=powertools_once)

    first = service.handle_event(scenario.event)
    again = service.handle_event(scenario.event)
    redelivered_copy = service.handle_event(scenario.event.model_validate_json(scenario.event.model_dump_json()))

    assert first.action == "email_sent"
    assert again.action == redelivered_copy.action == "duplicate_skipped"
    assert again.message_id == first.message_id
    (delivered,) = sns_inbox.delivered()
    assert delivered.message_id == first.message_id
    assert delivered.subject == "[PAPER] Alchemiser 2026-11-24: SUCCESS - 5 orders filled"
    assert delivered.attributes["status"] == "SUCCESS" and delivered.attributes["mode"] == "PAPER"
    assert f"Correlation id: {scenario.event.correlation_id}" in delivered.body
    # one Powertools record, completed, in the real table
    items = dynamodb_local_client.scan(TableName=idempotency_table)["Items"]
    assert [item["status"]["S"] for item in items] == ["COMPLETED"]


def test_a_second_service_instance_also_sends_nothing(
    dynamodb_local_client: Any, idempotency_table: str, sns_inbox: SnsInbox
) -> None:
    """A redelivery lands on another Lambda instance: the record is in DynamoDB, not in memory."""
    scenario = success_day()
    actions = []
    for _ in range(2):
        once = PowertoolsOnce.on_table(idempotency_table, dynamodb_local_client, key_prefix=ONCE_KEY_PREFIX)
        service, _, _, _ = build_service(scenario.ledger, emails=sns_sender(sns_inbox), once=once)
        actions.append(service.handle_event(scenario.event).action)
    assert actions == ["email_sent", "duplicate_skipped"]
    assert len(sns_inbox.delivered()) == 1


def test_one_email_per_workflow_even_for_a_second_outcome_event(
    powertools_once: PowertoolsOnce, sns_inbox: SnsInbox
) -> None:
    """A different outcome event with the same correlation id is still the same workflow's outcome."""
    scenario = deadline_missing_strategies()
    service, _, _, _ = build_service(scenario.ledger, emails=sns_sender(sns_inbox), once=powertools_once)
    first = service.handle_event(scenario.event)
    other = scenario.event.model_copy(update={"event_id": "evt-late-duplicate"})
    assert service.handle_event(other).action == "duplicate_skipped"
    assert first.action == "email_sent"
    assert len(sns_inbox.delivered()) == 1


def test_each_workflow_gets_its_own_email(powertools_once: PowertoolsOnce, sns_inbox: SnsInbox) -> None:
    a, b = success_day(), deadline_missing_strategies()
    service, _, _, _ = build_service(a.ledger + b.ledger, emails=sns_sender(sns_inbox), once=powertools_once)
    service.handle_event(a.event)
    service.handle_event(b.event)
    subjects = sorted(email.subject or "" for email in sns_inbox.delivered())
    assert subjects == [
        "[PAPER] Alchemiser 2026-11-24: FAILED - at aggregation: 2 strategies missing at the deadline (kl...",
        "[PAPER] Alchemiser 2026-11-24: SUCCESS - 5 orders filled",
    ]


def test_a_failed_send_is_retried_and_then_sent_once(powertools_once: PowertoolsOnce, sns_inbox: SnsInbox) -> None:
    """The earlier system skipped failed work on redelivery as a duplicate; here a failure leaves no record."""
    scenario = success_day()
    flaky = FlakySender(sns_sender(sns_inbox), failures=1)
    service, _, _, _ = build_service(scenario.ledger, emails=flaky, once=powertools_once)
    with pytest.raises(ConnectionError):
        service.handle_event(scenario.event)
    assert sns_inbox.delivered() == []
    assert service.handle_event(scenario.event).action == "email_sent"
    assert service.handle_event(scenario.event).action == "duplicate_skipped"
    assert len(sns_inbox.delivered()) == 1


def test_malformed_event_alert_is_sent_once_per_eventbridge_id(
    powertools_once: PowertoolsOnce, sns_inbox: SnsInbox
) -> None:
    service, _, _, _ = build_service([], emails=sns_sender(sns_inbox), once=powertools_once)
    results = [
        service.alert_malformed_event(envelope_id="eb-1", detail_type="WorkflowFailed", source="x", error="bad")
        for _ in range(3)
    ]
    assert [r.action for r in results] == ["malformed_alerted", "duplicate_skipped", "duplicate_skipped"]
    assert len(sns_inbox.delivered()) == 1


class BlockingSender:
    """SNS that holds the first send until told to go on: a delivery still in progress."""

    def __init__(self, inner: SnsEmailSender) -> None:
        self._inner = inner
        self.entered = threading.Event()
        self.go_on = threading.Event()

    def send(self, message: EmailMessage) -> str:
        self.entered.set()
        assert self.go_on.wait(timeout=30), "the test never released the first send"
        return self._inner.send(message)


def test_concurrent_redelivery_while_the_first_is_sending_sends_nothing(
    powertools_once: PowertoolsOnce, sns_inbox: SnsInbox, dynamodb_local_client: Any, idempotency_table: str
) -> None:
    """Two Lambda instances get the same event at once: the second finds the in-progress record and
    fails (EventBridge retries it later, when it is a plain duplicate); one email in all."""
    scenario = success_day()
    blocking = BlockingSender(sns_sender(sns_inbox))
    service, _, _, _ = build_service(scenario.ledger, emails=blocking, once=powertools_once)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(service.handle_event, scenario.event)
        assert blocking.entered.wait(timeout=30)
        other_instance = PowertoolsOnce.on_table(idempotency_table, dynamodb_local_client, key_prefix=ONCE_KEY_PREFIX)
        other, _, _, _ = build_service(scenario.ledger, emails=sns_sender(sns_inbox), once=other_instance)
        with pytest.raises(IdempotencyAlreadyInProgressError):
            other.handle_event(scenario.event)
        blocking.go_on.set()
        assert first.result(timeout=30).action == "email_sent"
    assert service.handle_event(scenario.event).action == "duplicate_skipped"
    assert len(sns_inbox.delivered()) == 1
