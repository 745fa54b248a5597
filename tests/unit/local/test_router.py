"""The local router's schedules: it fires what template.yaml's Scheduler schedules target, as AWS would."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from the_alchemiser.local.stack.model import load_stack_model
from the_alchemiser.local.stack.provision import provision
from the_alchemiser.local.stack.router import LocalRouter, RoutingError

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
AT = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)


def test_a_schedule_targeting_a_queue_sends_its_input_and_the_default_schedule_invokes_a_function() -> None:
    model = load_stack_model(TEMPLATE, "local")
    queue_schedules = [s for s in model.schedules if s.function not in model.functions]
    assert queue_schedules, "template.yaml has a schedule that targets a queue (the close check)"
    with mock_aws():
        clients = {s: boto3.client(s, region_name="us-east-1") for s in ("dynamodb", "sqs", "s3", "sns", "events")}
        provision(model, clients)
        router = LocalRouter(model)
        router.trigger_schedule(AT)
        invocation = router._pending[0]
        assert invocation.function in model.functions and invocation.trigger == "schedule"
        for schedule in queue_schedules:
            router.trigger_schedule(AT, name=schedule.name)
            received = clients["sqs"].receive_message(QueueUrl=model.queue_url(schedule.function))["Messages"]
            assert json.loads(received[0]["Body"]) == json.loads(schedule.input or "{}")
        with pytest.raises(RoutingError, match="no schedule"):
            router.trigger_schedule(AT, name="NoSuchSchedule")
