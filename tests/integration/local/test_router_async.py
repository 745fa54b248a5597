"""Async invocations in the local router as Lambda runs them (issue #17): a failed invocation is retried
MaximumRetryAttempts times (EventInvokeConfig, default 2) after Lambda's delays (counted, not slept), and
other work goes on meanwhile; then the event goes to the function's DeadLetterQueue and its OnFailure
destination. Never retried at once, never lost silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.local.router_probe import PROBE
from tests.support.local.router_stack import BUS, arn, function, queue, rule, stack, target
from the_alchemiser.local.stack.intrinsics import TemplateError


def always_fail(_event: Any, _context: Any) -> None:
    raise RuntimeError("the handler failed")


def test_retries_follow_event_invoke_config_then_the_dead_letter_queue(tmp_path: Path) -> None:
    resources = {
        "Worker": function(
            EventInvokeConfig={"MaximumRetryAttempts": 1},
            DeadLetterQueue={"Type": "SQS", "TargetArn": arn("AsyncDLQ")},
        ),
        "AsyncDLQ": queue(),
    }
    with stack(tmp_path, resources) as s:
        PROBE.behaviours["Worker"] = always_fail
        s.lambda_.invoke(FunctionName="alchemiser-local-Worker", InvocationType="Event", Payload=b'{"job": 7}')
        s.router.run_until_idle()
        assert [c.event for c in PROBE.of("Worker")] == [{"job": 7}, {"job": 7}]  # one try and one retry
        (parked,) = s.messages("AsyncDLQ")
        assert json.loads(parked["Body"]) == {"job": 7}
        assert "the handler failed" in parked["MessageAttributes"]["ErrorMessage"]["StringValue"]


def test_the_default_is_two_retries_then_the_on_failure_destination(tmp_path: Path) -> None:
    resources = {
        "Worker": function(
            EventInvokeConfig={
                "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": arn("Failures")}},
            },
        ),
        "Failures": queue(),
    }
    with stack(tmp_path, resources) as s:
        PROBE.behaviours["Worker"] = always_fail
        s.router.enqueue("Worker", {"job": 8}, "manual")
        s.router.run_until_idle()
        assert len(PROBE.of("Worker")) == 3
        (message,) = s.messages("Failures")
        record = json.loads(message["Body"])
        assert record["requestPayload"] == {"job": 8}
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_a_retry_waits_its_delay_while_other_invocations_run(tmp_path: Path) -> None:
    """Lambda waits a minute before the first retry (two before the second): others run meanwhile."""
    failed_once: set[str] = set()

    def fail_first_time(event: dict[str, Any], _context: Any) -> None:
        if event["job"] not in failed_once:
            failed_once.add(event["job"])
            raise RuntimeError("transient")

    with stack(tmp_path, {"Flaky": function(), "Steady": function()}) as s:
        PROBE.behaviours["Flaky"] = fail_first_time
        s.router.enqueue("Flaky", {"job": "f"}, "manual")
        s.router.enqueue("Steady", {"job": "s"}, "manual")
        s.router.run_until_idle()
        assert [c.function for c in PROBE.calls] == ["Flaky", "Steady", "Flaky"]
        retry = s.router.deliveries[-1]
        assert retry.ok and retry.attempt == 2 and retry.at >= 60


def test_an_event_older_than_its_maximum_age_is_not_retried_again(tmp_path: Path) -> None:
    """MaximumEventAgeInSeconds 90: the retry at one minute runs, the one at three minutes is discarded."""
    resources = {
        "Worker": function(
            EventInvokeConfig={
                "MaximumEventAgeInSeconds": 90,
                "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": arn("Failures")}},
            }
        ),
        "Failures": queue(),
    }
    with stack(tmp_path, resources) as s:
        PROBE.behaviours["Worker"] = always_fail
        s.router.enqueue("Worker", {"job": 9}, "manual")
        s.router.run_until_idle()
        assert len(PROBE.of("Worker")) == 2
        (message,) = s.messages("Failures")
        assert json.loads(message["Body"])["requestContext"]["condition"] == "EventAgeExceeded"


def test_an_eventbridge_target_fails_into_the_functions_dead_letter_queue(tmp_path: Path) -> None:
    """EventBridge invokes a Lambda target asynchronously: the function's retries and DLQ apply."""
    resources = {
        **BUS,
        "Notifier": function(
            EventInvokeConfig={"MaximumRetryAttempts": 0},
            DeadLetterQueue={"Type": "SQS", "TargetArn": arn("AsyncDLQ")},
        ),
        "AsyncDLQ": queue(),
        "NotifyRule": rule({"detail-type": ["Done"]}, target("Notifier")),
    }
    with stack(tmp_path, resources) as s:
        PROBE.behaviours["Notifier"] = always_fail
        s.publish("Done", {"n": 1})
        s.router.run_until_idle()
        assert len(PROBE.of("Notifier")) == 1
        (parked,) = s.messages("AsyncDLQ")
        assert json.loads(parked["Body"])["detail"] == {"n": 1}


def test_a_standalone_event_invoke_config_and_a_function_destination(tmp_path: Path) -> None:
    """AWS::Lambda::EventInvokeConfig applies as SAM's property does; a function destination is invoked
    (asynchronously) with the invocation record."""
    resources = {
        "Worker": function(),
        "OnFailureHandler": function(),
        "WorkerInvokeConfig": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": "Worker"},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 0,
                "DestinationConfig": {"OnFailure": {"Destination": arn("OnFailureHandler")}},
            },
        },
    }
    with stack(tmp_path, resources) as s:
        PROBE.behaviours["Worker"] = always_fail
        s.router.enqueue("Worker", {"job": 10}, "manual")
        s.router.run_until_idle()
        assert len(PROBE.of("Worker")) == 1
        (record,) = [c.event for c in PROBE.of("OnFailureHandler")]
        assert record["requestPayload"] == {"job": 10}
        assert record["requestContext"]["condition"] == "RetriesExhausted"


def test_an_event_invoke_config_outside_lambdas_limits_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(TemplateError, match="EventInvokeConfig"),
        stack(tmp_path, {"Worker": function(EventInvokeConfig={"MaximumRetryAttempts": 3})}),
    ):
        pass
