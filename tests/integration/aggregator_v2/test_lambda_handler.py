"""The Signal Aggregator's `lambda_handler` as deployed: wiring from the environment, partials arriving as
EventBridge delivers them (published through the real publisher onto a moto bus), deadlines as the
SessionDeadlineQueue's SQS records; the sessions table on DynamoDB Local."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from pydantic import ValidationError

from tests.fixtures.aggregator_v2 import ALLOCATIONS, WEIGHTS, expected_targets, failure, open_session, success
from tests.fixtures.aws import REGION
from tests.support.coordinator_v2.aws_rig import LambdaEnvironment, lambda_env  # noqa: F401  (a fixture)
from the_alchemiser.aggregator_v2.lambda_handler import lambda_handler
from the_alchemiser.aggregator_v2.service import UnknownSessionError
from the_alchemiser.coordinator_v2.ports import SqsDeadlineScheduler
from the_alchemiser.shared.events import (
    BaseEvent,
    EventBridgePublisher,
    EventParseError,
    SignalGenerated,
    WorkflowFailed,
    WorkflowStarted,
)
from the_alchemiser.shared.sessions import AggregationSession, SessionDeadline, SessionStatus


def delivered(env: LambdaEnvironment, event: BaseEvent) -> dict[str, Any]:
    """Publish with the real publisher and take the envelope EventBridge delivers to its targets."""
    EventBridgePublisher(env.bus.events, env.bus.name, env.bus.store).publish(event)
    [envelope] = env.bus.received_envelopes()
    envelope.setdefault("account", "123456789012")  # EventBridge always sends it; moto's SQS copy omits it
    return envelope


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Messages received from SQS, in the shape the Lambda event source mapping hands them over."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def queue_arn(env: LambdaEnvironment) -> str:
    attributes = env.bus.sqs.get_queue_attributes(QueueUrl=env.deadline_queue_url, AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn


def deadline_of(session: AggregationSession) -> SessionDeadline:
    return SessionDeadline(
        session_id=session.session_id,
        correlation_id=session.correlation_id,
        causation_id=session.causation_id,
        deadline=session.deadline,
    )


def test_partials_in_any_order_make_one_signal_and_redeliveries_change_nothing(
    lambda_env: LambdaEnvironment,  # noqa: F811
) -> None:
    session = open_session(lambda_env.sessions, ALLOCATIONS)
    envelopes = [delivered(lambda_env, success(session, f, WEIGHTS[f])) for f in ALLOCATIONS]
    random.Random(3).shuffle(envelopes)

    actions = [lambda_handler(e, None)["action"] for e in envelopes]
    assert actions == ["stored", "stored", "completed"]
    [signal] = lambda_env.bus.received()
    assert isinstance(signal, SignalGenerated)
    assert signal.consolidated_portfolio.target_weights == expected_targets(ALLOCATIONS, WEIGHTS)
    assert signal.consolidated_portfolio.strategy_contributions["beta.clj"] == {
        "SPY": Decimal("0.075"),
        "QQQ": Decimal("0.225"),
    }

    for envelope in envelopes:  # EventBridge delivers at least once
        assert lambda_handler(envelope, None)["action"] == "already_decided"
    assert lambda_env.bus.received() == []


def test_a_failed_partial_ends_the_workflow_at_once(lambda_env: LambdaEnvironment) -> None:  # noqa: F811
    session = open_session(lambda_env.sessions, ALLOCATIONS)
    result = lambda_handler(delivered(lambda_env, failure(session, "beta.clj", "StaleMarketDataError: old")), None)
    assert result["action"] == "failed" and result["status"] == "FAILED"
    [failed] = lambda_env.bus.received()
    assert isinstance(failed, WorkflowFailed)
    assert failed.error_details["failed_strategies"] == {"beta.clj": "StaleMarketDataError: old"}


def test_a_partial_too_large_for_eventbridge_arrives_by_s3_pointer(lambda_env: LambdaEnvironment) -> None:  # noqa: F811
    session = open_session(lambda_env.sessions, {"alpha.clj": "1"})
    event = success(session, "alpha.clj", {"SPY": "1"})
    assert event.signals_data is not None
    long_trace = [f"decision {i}: " + "x" * 200 for i in range(1500)]  # ~300 KB
    big = event.model_copy(update={"signals_data": event.signals_data.model_copy(update={"trace_summary": long_trace})})
    envelope = delivered(lambda_env, big)
    assert "payload_key" in envelope["detail"]  # what went over the bus is a pointer
    assert lambda_handler(envelope, None)["action"] == "completed"
    [signal] = lambda_env.bus.received()
    assert isinstance(signal, SignalGenerated) and signal.signals_data[0].trace_summary == long_trace


def test_the_delayed_deadline_message_ends_a_session_still_waiting(lambda_env: LambdaEnvironment) -> None:  # noqa: F811
    session = open_session(lambda_env.sessions, ALLOCATIONS)
    for f in ("alpha.clj", "gamma.clj"):
        lambda_handler(delivered(lambda_env, success(session, f, WEIGHTS[f])), None)
    SqsDeadlineScheduler(lambda_env.bus.sqs, lambda_env.deadline_queue_url).schedule(
        deadline_of(session), delay_seconds=1
    )
    assert lambda_env.bus.received() == []

    messages = lambda_env.deadline_messages(wait_seconds=5)
    assert len(messages) == 1
    response = lambda_handler(sqs_event(messages, queue_arn(lambda_env)), None)
    assert response == {"batchItemFailures": []}
    [failed] = lambda_env.bus.received()
    assert isinstance(failed, WorkflowFailed)
    assert failed.error_details["missing_strategies"] == ["beta.clj"]
    assert failed.failure_step == "aggregation" and "no trading" in failed.failure_reason
    stored = lambda_env.sessions.get_session(session.session_id)
    assert stored is not None and stored.status is SessionStatus.FAILED

    # the queue redelivers the deadline: nothing more
    assert lambda_handler(sqs_event(messages, queue_arn(lambda_env)), None) == {"batchItemFailures": []}
    assert lambda_env.bus.received() == []


def test_a_bad_deadline_record_is_reported_alone_and_the_good_one_still_ends_its_session(
    lambda_env: LambdaEnvironment,  # noqa: F811
) -> None:
    session = open_session(lambda_env.sessions, ALLOCATIONS)
    good = {"MessageId": "good", "ReceiptHandle": "r1", "Body": deadline_of(session).model_dump_json(), "MD5OfBody": ""}
    bad = {"MessageId": "bad", "ReceiptHandle": "r2", "Body": '{"session_id": "x"}', "MD5OfBody": ""}
    response = lambda_handler(sqs_event([bad, good], queue_arn(lambda_env)), None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert [type(e) for e in lambda_env.bus.received()] == [WorkflowFailed]

    # a batch of nothing but bad records fails the invocation: SQS retries, then dead-letters it
    with pytest.raises(BatchProcessingError):
        lambda_handler(sqs_event([bad], queue_arn(lambda_env)), None)


def test_malformed_and_foreign_events_raise_so_they_reach_the_dead_letter_queue(
    lambda_env: LambdaEnvironment,  # noqa: F811
) -> None:
    session = open_session(lambda_env.sessions, ALLOCATIONS)
    envelope = delivered(lambda_env, success(session, "alpha.clj", WEIGHTS["alpha.clj"]))
    started = delivered(
        lambda_env,
        WorkflowStarted(
            correlation_id=session.correlation_id,
            causation_id="t",
            source_module="coordinator_v2",
            source_component="StrategyOrchestrator",
            trading_date=session.trading_date,
            stage="test",
            session_id=session.session_id,
            strategies=session.allocations,
            deadline=session.deadline,
        ),
    )
    cases: list[tuple[Any, type[Exception]]] = [
        ({}, ValidationError),
        ({"Records": []}, ValidationError),  # Lambda never sends an empty batch
        ({"Records": [{"eventSource": "aws:kinesis"}]}, ValidationError),
        ({**envelope, "detail": {}}, EventParseError),
        ({**envelope, "detail": {"event_type": "PartialSignalGenerated"}}, EventParseError),
        ({**envelope, "detail": "not json"}, ValidationError),
        (started, EventParseError),  # a valid event, but not the aggregator's
        ({**envelope, "detail": {**envelope["detail"], "session_id": "no-such-session"}}, UnknownSessionError),
    ]
    for event, error in cases:
        with pytest.raises(error):
            lambda_handler(event, None)
    assert lambda_env.sessions.partials(session.session_id) == {}
    assert lambda_env.bus.received() == []
    json.dumps(envelope)  # the envelope itself was fine
    assert lambda_handler(envelope, None)["action"] == "stored"
