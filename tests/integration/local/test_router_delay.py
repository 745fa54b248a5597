"""SQS delays counted on the local router's clock (issue #17): a message sent with DelaySeconds, or into a
queue with a DelaySeconds, is held by the router and delivered when its delay is over on the router's clock,
other work going first; moto alone would make it wait in real time (the session deadline never came)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.local.router_probe import PROBE
from tests.support.local.router_stack import REGION, function, mapping, queue, stack
from the_alchemiser.local.stack.router import RoutingError


def resources(queue_delay: int | None = None) -> dict[str, Any]:
    work = queue()
    if queue_delay is not None:
        work["Properties"]["DelaySeconds"] = queue_delay
    return {"Consumer": function(), "Work": work, "WorkMapping": mapping("Work", "Consumer", batch_size=1)}


def received(router: Any) -> list[tuple[str, float]]:
    """(body, the router's clock) of each delivery to the consumer, in order."""
    calls = iter(PROBE.of("Consumer"))
    return [(next(calls).event["Records"][0]["body"], d.at) for d in router.deliveries if d.function == "Consumer"]


def test_a_delayed_message_arrives_when_its_delay_is_over_on_the_routers_clock(tmp_path: Path) -> None:
    with stack(tmp_path, resources()) as s:
        sqs = boto3.client("sqs", region_name=REGION)  # made after the router was installed: it sees the sends
        url = s.model.queue_url("Work")
        answer = sqs.send_message(QueueUrl=url, MessageBody="deadline", DelaySeconds=600)
        assert answer["MessageId"] and answer["MD5OfMessageBody"] == hashlib.md5(b"deadline").hexdigest()
        sqs.send_message(QueueUrl=url, MessageBody="soon", DelaySeconds=30)
        sqs.send_message(QueueUrl=url, MessageBody="now")
        s.router.run_until_idle()
        assert received(s.router) == [("now", 0.0), ("soon", 30.0), ("deadline", 600.0)]
        assert s.depth("Work") == 0


def test_a_queues_delay_applies_unless_the_message_sets_its_own(tmp_path: Path) -> None:
    with stack(tmp_path, resources(queue_delay=45)) as s:
        sqs = boto3.client("sqs", region_name=REGION)
        url = s.model.queue_url("Work")
        sqs.send_message(QueueUrl=url, MessageBody="queue's delay")
        sqs.send_message(QueueUrl=url, MessageBody="no delay", DelaySeconds=0)
        s.router.run_until_idle()
        assert received(s.router) == [("no delay", 0.0), ("queue's delay", 45.0)]


def test_a_delayed_batch_send_is_refused_not_left_to_real_time(tmp_path: Path) -> None:
    with stack(tmp_path, resources()) as s:
        sqs = boto3.client("sqs", region_name=REGION)
        entries = [{"Id": "a", "MessageBody": "a", "DelaySeconds": 60}]
        with pytest.raises(RoutingError, match="SendMessageBatch"):
            sqs.send_message_batch(QueueUrl=s.model.queue_url("Work"), Entries=entries)
