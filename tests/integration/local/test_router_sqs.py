"""The local router's SQS event source as strict as Lambda's poller (issue #17): a mapping without
ReportBatchItemFailures ignores a returned batchItemFailures (the batch succeeded), a raise retries the whole
batch, a failed message waits out the queue's visibility timeout (counted, not slept), BatchSize is one
invocation's batch, and maxReceiveCount moves a message to the queue's dead-letter queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.local.router_probe import PROBE
from tests.support.local.router_stack import function, mapping, queue, stack
from the_alchemiser.local.stack.intrinsics import TemplateError


def bodies(event: dict[str, Any]) -> list[str]:
    return [record["body"] for record in event["Records"]]


def fail_bodies(*names: str) -> Any:
    """A handler that reports the records with these bodies as failed (and the rest as done)."""

    def behaviour(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        failed = [r["messageId"] for r in event["Records"] if r["body"] in names]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    return behaviour


def resources(report: bool, batch_size: int = 10, visibility: int = 30, max_receive: int = 3) -> dict[str, Any]:
    return {
        "Consumer": function(),
        "Work": queue(visibility=visibility, dead_letter="WorkDLQ", max_receive=max_receive),
        "WorkDLQ": queue(),
        "WorkMapping": mapping("Work", "Consumer", batch_size=batch_size, report=report),
    }


def test_without_report_batch_item_failures_a_returned_failure_list_is_ignored(tmp_path: Path) -> None:
    """AWS deletes the whole batch when the handler returns normally: the list means nothing to it."""
    with stack(tmp_path, resources(report=False)) as s:
        PROBE.behaviours["Consumer"] = fail_bodies("bad")
        s.send("Work", "good", "bad")
        s.router.run_until_idle()
        assert [bodies(c.event) for c in PROBE.of("Consumer")] == [["good", "bad"]]
        assert s.depth("Work") == 0 and s.depth("WorkDLQ") == 0


def test_without_report_batch_item_failures_a_raise_retries_the_whole_batch(tmp_path: Path) -> None:
    def raise_on_first_receive(event: dict[str, Any], _context: Any) -> None:
        if event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1":
            raise RuntimeError("boom")

    with stack(tmp_path, resources(report=False)) as s:
        PROBE.behaviours["Consumer"] = raise_on_first_receive
        s.send("Work", "a", "b")
        s.router.run_until_idle()
        assert [bodies(c.event) for c in PROBE.of("Consumer")] == [["a", "b"], ["a", "b"]]
        assert s.depth("Work") == 0


def test_with_report_batch_item_failures_only_the_listed_are_retried_then_dead_lettered(tmp_path: Path) -> None:
    with stack(tmp_path, resources(report=True, batch_size=3, max_receive=2)) as s:
        PROBE.behaviours["Consumer"] = fail_bodies("bad")
        s.send("Work", "a", "bad", "c")
        s.router.run_until_idle()
        assert [bodies(c.event) for c in PROBE.of("Consumer")] == [["a", "bad", "c"], ["bad"]]
        assert s.depth("Work") == 0
        assert [m["Body"] for m in s.messages("WorkDLQ")] == ["bad"]


def test_a_failed_message_waits_its_visibility_timeout_while_the_others_go_first(tmp_path: Path) -> None:
    """Not redelivered at once: the next visible message is processed first, and the wait is counted."""

    def fail_first_receive(event: dict[str, Any], context: Any) -> dict[str, Any]:
        record = event["Records"][0]
        first = record["attributes"]["ApproximateReceiveCount"] == "1"
        return fail_bodies(record["body"])(event, context) if first and record["body"] == "flaky" else {}

    with stack(tmp_path, resources(report=True, batch_size=1, visibility=300)) as s:
        PROBE.behaviours["Consumer"] = fail_first_receive
        s.send("Work", "flaky", "steady")
        s.router.run_until_idle()
        assert [bodies(c.event) for c in PROBE.of("Consumer")] == [["flaky"], ["steady"], ["flaky"]]
        redelivery = s.router.deliveries[-1]
        assert redelivery.at >= 300, "the redelivery came before the visibility timeout had passed"
        assert s.depth("Work") == 0


def test_an_unknown_item_identifier_fails_the_whole_batch(tmp_path: Path) -> None:
    """Lambda treats a batchItemFailures naming a message not in the batch as a complete failure."""
    answers = iter([{"batchItemFailures": [{"itemIdentifier": "not-a-message-id"}]}, {}])
    with stack(tmp_path, resources(report=True)) as s:
        PROBE.behaviours["Consumer"] = lambda _event, _context: next(answers)
        s.send("Work", "a", "b")
        s.router.run_until_idle()
        assert [bodies(c.event) for c in PROBE.of("Consumer")] == [["a", "b"], ["a", "b"]]


def test_batch_size_is_one_invocations_batch_even_above_ten(tmp_path: Path) -> None:
    items = {
        **resources(report=True),
        "WorkMapping": mapping("Work", "Consumer", batch_size=15, MaximumBatchingWindowInSeconds=1),
    }
    with stack(tmp_path, items) as s:
        s.send("Work", *(f"m{i}" for i in range(17)))
        s.router.run_until_idle()
        assert [len(c.event["Records"]) for c in PROBE.of("Consumer")] == [15, 2]


def test_a_batch_size_above_ten_without_a_batching_window_is_refused(tmp_path: Path) -> None:
    """Lambda rejects the mapping (BatchSize > 10 needs MaximumBatchingWindowInSeconds >= 1)."""
    with (
        pytest.raises(TemplateError, match="MaximumBatchingWindowInSeconds"),
        stack(tmp_path, resources(report=True, batch_size=15)),
    ):
        pass


def test_a_queue_whose_visibility_timeout_is_below_the_functions_timeout_is_refused(tmp_path: Path) -> None:
    """Lambda refuses such a mapping: a message could come back while the first invocation still runs."""
    items = {**resources(report=True, visibility=30), "Consumer": function(Timeout=60)}
    with pytest.raises(TemplateError, match="VisibilityTimeout"), stack(tmp_path, items):
        pass
