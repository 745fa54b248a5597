"""shared/once.py, the one exactly-once helper: Powertools idempotency on the real DynamoDB Local, and
the same contract checked on tests/fixtures' MemoryOnce (what unit tests use instead)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from tests.fixtures.idempotency import MemoryOnce
from the_alchemiser.shared.once import OncePerKey, PowertoolsOnce

OnceFactory = Callable[[str], OncePerKey]


@pytest.fixture(params=[pytest.param("dynamodb_local", marks=pytest.mark.dynamodb_local), "memory"])
def make_once(request: pytest.FixtureRequest) -> OnceFactory:
    """A factory of helpers over ONE store: each call is another Lambda instance (same records)."""
    if request.param == "memory":
        shared = MemoryOnce()
        return lambda prefix: _Prefixed(shared, prefix)
    client = request.getfixturevalue("dynamodb_local_client")
    table = request.getfixturevalue("idempotency_table")
    return lambda prefix: PowertoolsOnce.on_table(table, client, key_prefix=prefix)


class _Prefixed:
    """MemoryOnce keeps one dict; the prefix separates uses as Powertools' record id does."""

    def __init__(self, inner: MemoryOnce, prefix: str) -> None:
        self._inner, self._prefix = inner, prefix

    def register_lambda_context(self, context: Any) -> None:
        self._inner.register_lambda_context(context)

    def run(self, key: str, work: Any) -> Any:
        return self._inner.run(f"{self._prefix}#{key}", work)


class Counter:
    def __init__(self, failures: int = 0) -> None:
        self.calls = 0
        self.failures = failures

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("the publish failed")
        return {"published": f"event-{self.calls}", "count": self.calls}


def test_the_work_runs_once_and_a_replay_gets_its_value(make_once: OnceFactory) -> None:
    once, work = make_once("test.once"), Counter()
    first = once.run("corr-1", work)
    again = once.run("corr-1", work)
    elsewhere = make_once("test.once").run("corr-1", work)  # a redelivery on another instance
    assert (first.replayed, again.replayed, elsewhere.replayed) == (False, True, True)
    assert first.value == again.value == elsewhere.value == {"published": "event-1", "count": 1}
    assert work.calls == 1


def test_work_that_raises_leaves_no_record_so_the_retry_runs(make_once: OnceFactory) -> None:
    once, work = make_once("test.once"), Counter(failures=1)
    with pytest.raises(ConnectionError):
        once.run("corr-2", work)
    retried = once.run("corr-2", work)
    assert not retried.replayed and retried.value["published"] == "event-2"
    assert once.run("corr-2", work).replayed and work.calls == 2


def test_keys_and_prefixes_are_separate(make_once: OnceFactory) -> None:
    work = Counter()
    a, b = make_once("test.a"), make_once("test.b")
    assert not a.run("k", work).replayed
    assert not a.run("other", work).replayed
    assert not b.run("k", work).replayed  # the same key under another use is another record
    assert work.calls == 3


@pytest.mark.dynamodb_local
def test_record_ids_are_the_prefix_and_the_keys_hash(dynamodb_local_client: Any, idempotency_table: str) -> None:
    """The ids the services' records had before this helper (notifications' and portfolio's), unchanged."""
    PowertoolsOnce.on_table(idempotency_table, dynamodb_local_client, key_prefix="portfolio_v2.plan").run(
        "corr-x", Counter()
    )
    [item] = dynamodb_local_client.scan(TableName=idempotency_table)["Items"]
    digest = hashlib.md5(json.dumps("corr-x").encode()).hexdigest()
    assert item["id"]["S"] == f"portfolio_v2.plan#{digest}"
    assert item["status"]["S"] == "COMPLETED" and "expiration" in item


@pytest.mark.dynamodb_local
def test_a_record_stored_by_portfolio_before_the_helper_still_replays(
    dynamodb_local_client: Any, idempotency_table: str
) -> None:
    digest = hashlib.md5(json.dumps("corr-old").encode()).hexdigest()
    legacy = {"correlation_id": "corr-old", "status": "planned", "replayed": False}
    dynamodb_local_client.put_item(
        TableName=idempotency_table,
        Item={
            "id": {"S": f"portfolio_v2.plan#{digest}"},
            "expiration": {"N": "4102444800"},
            "status": {"S": "COMPLETED"},
            "data": {"S": json.dumps(legacy)},
        },
    )
    once, work = (
        PowertoolsOnce.on_table(idempotency_table, dynamodb_local_client, key_prefix="portfolio_v2.plan"),
        Counter(),
    )
    result = once.run("corr-old", work)
    assert result.replayed and result.value == {"correlation_id": "corr-old", "status": "planned"}
    assert work.calls == 0


@pytest.mark.dynamodb_local
def test_a_concurrent_call_while_the_first_is_working_raises_in_progress(
    dynamodb_local_client: Any, idempotency_table: str
) -> None:
    entered, go_on = threading.Event(), threading.Event()

    def slow() -> dict[str, Any]:
        entered.set()
        assert go_on.wait(timeout=30)
        return {"done": True}

    first_instance = PowertoolsOnce.on_table(idempotency_table, dynamodb_local_client, key_prefix="test.once")
    other_instance = PowertoolsOnce.on_table(idempotency_table, dynamodb_local_client, key_prefix="test.once")
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(first_instance.run, "corr-3", slow)
        assert entered.wait(timeout=30)
        with pytest.raises(IdempotencyAlreadyInProgressError):
            other_instance.run("corr-3", Counter())
        go_on.set()
        assert first.result(timeout=30).value == {"done": True}
    assert other_instance.run("corr-3", Counter()).replayed
