"""The whole fan-out/fan-in through the three deployed handlers: the schedule fires the orchestrator, each
async invoke it makes runs the real Strategy Worker on the project's strategies (S3 datalake on moto),
each event the bus carries goes to the aggregator, and the deadline arrives on its own as the
orchestrator's delayed SQS message. Sessions live on DynamoDB Local."""

from __future__ import annotations

import json
import random
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.aws import REGION, unique_name
from tests.support.coordinator_v2.aws_rig import (  # noqa: F401  (lambda_env is a fixture)
    LambdaEnvironment,
    create_worker_function,
    fill_datalake,
    lambda_env,
    record_invokes,
)
from the_alchemiser.aggregator_v2.lambda_handler import lambda_handler as aggregator_handler
from the_alchemiser.coordinator_v2.lambda_handler import lambda_handler as orchestrator_handler
from the_alchemiser.shared.config.settings import Settings
from the_alchemiser.shared.events import (
    BaseEvent,
    PartialSignalGenerated,
    SignalGenerated,
    WorkflowFailed,
    WorkflowStarted,
    decode_event,
)
from the_alchemiser.shared.sessions import SessionStatus
from the_alchemiser.strategy_v2.dsl import load_strategy
from the_alchemiser.strategy_v2.lambda_handler import lambda_handler as worker_handler

PROJECT_STRATEGIES = Settings().strategies_path
SCHEDULE_INPUT = {"trigger": "schedule", "scheduled_time": "2026-11-20T20:30:00Z", "execution_id": "exec-e2e"}
MALFORMED = '(defsymphony "Broken" {}\n  (weight-equal [(asset "SPY" nil)\n'


class Workflow:
    """Plays the part of AWS between the functions: async invokes -> worker, bus events -> aggregator."""

    def __init__(self, env: LambdaEnvironment, invokes: list[dict[str, Any]]) -> None:
        self.env = env
        self.invokes = invokes
        self.seen: list[BaseEvent] = []  # every event the bus carried, in order
        self.partial_envelopes: list[dict[str, Any]] = []

    def start(self) -> dict[str, Any]:
        return orchestrator_handler(SCHEDULE_INPUT, None)

    def worker_payloads(self) -> list[dict[str, Any]]:
        return [json.loads(call["Payload"]) for call in self.invokes]

    def run_worker(self, payload: dict[str, Any]) -> None:
        worker_handler(payload, None)
        self.pump()

    def pump(self) -> None:
        """Deliver what is on the bus: partials go to the aggregator (the template's rule)."""
        while envelopes := self.env.bus.received_envelopes():
            for envelope in envelopes:
                envelope.setdefault("account", "123456789012")  # moto's SQS copy omits it
                event = decode_event(envelope["detail"], self.env.bus.store)
                self.seen.append(event)
                if isinstance(event, PartialSignalGenerated):
                    self.partial_envelopes.append(envelope)
                    aggregator_handler(envelope, None)

    def deliver_deadline(self, wait_seconds: int) -> None:
        messages = self.env.deadline_messages(wait_seconds=wait_seconds)
        assert len(messages) == 1, "the orchestrator schedules exactly one deadline message"
        arn = self.env.bus.sqs.get_queue_attributes(QueueUrl=self.env.deadline_queue_url, AttributeNames=["QueueArn"])
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn["Attributes"]["QueueArn"],
                "awsRegion": REGION,
            }
            for m in messages
        ]
        assert aggregator_handler({"Records": records}, None) == {"batchItemFailures": []}
        self.pump()

    def outcomes(self) -> list[BaseEvent]:
        return [e for e in self.seen if isinstance(e, SignalGenerated | WorkflowFailed)]

    def partials(self) -> list[PartialSignalGenerated]:
        return [e for e in self.seen if isinstance(e, PartialSignalGenerated)]


def strategies_folder(tmp_path: Path, allocations: str | None = None) -> Path:
    folder = tmp_path / "strategies"
    shutil.copytree(PROJECT_STRATEGIES, folder)
    (folder / "broken.clj").write_text(MALFORMED)
    if allocations is not None:
        (folder / "allocations.toml").write_text(allocations)
    return folder


def universe(folder: Path) -> list[str]:
    files = [f for f in sorted(folder.glob("*.clj")) if f.name != "broken.clj"]
    return sorted(set().union(*(load_strategy(f).universe for f in files)))


def workflow_for(env: LambdaEnvironment, folder: Path, deadline_seconds: int = 900) -> Workflow:
    bucket = unique_name("market-data")
    env.bus.s3.create_bucket(Bucket=bucket)
    fill_datalake(env.bus.s3, bucket, universe(folder), date(2026, 11, 19))
    env.set(
        STAGE="local",
        STRATEGIES_DIR=str(folder),
        MARKET_DATA_BUCKET=bucket,
        STRATEGY_WORKER_FUNCTION_NAME=create_worker_function(),
        SESSION_DEADLINE_QUEUE_URL=env.deadline_queue_url,
        SESSION_DEADLINE_SECONDS=str(deadline_seconds),
        ALCHEMISER_LOCAL_CLOCK="2026-11-20T15:30:00-05:00",
    )
    return Workflow(env, record_invokes())


@pytest.mark.parametrize("seed", [1, 2])
def test_all_workers_in_any_order_make_one_signal_with_the_weighted_sum_kept_per_strategy(
    lambda_env: LambdaEnvironment,  # noqa: F811
    tmp_path: Path,
    seed: int,
) -> None:
    flow = workflow_for(lambda_env, strategies_folder(tmp_path))
    started = flow.start()
    assert started["status"] == "started"
    payloads = flow.worker_payloads()
    assert [p["dsl_file"] for p in payloads] == ["nuclear.clj", "tecl.clj", "klm.clj"]
    random.Random(seed).shuffle(payloads)
    for payload in payloads:
        flow.run_worker(payload)

    [signal] = flow.outcomes()
    assert isinstance(signal, SignalGenerated)
    assert signal.correlation_id == started["correlation_id"] and signal.session_id == started["session_id"]
    # the weighted sum per symbol, from the partials the workers published (independent of the merge code)
    expected: dict[str, Decimal] = {}
    for partial in flow.partials():
        assert partial.signals_data is not None
        for symbol, weight in partial.signals_data.weights.items():
            expected[symbol] = expected.get(symbol, Decimal(0)) + partial.signals_data.allocation * weight
    portfolio = signal.consolidated_portfolio
    assert portfolio.target_weights == expected and sum(portfolio.target_weights.values()) == 1
    assert portfolio.strategy_allocations == {
        "nuclear.clj": Decimal("0.5"),
        "tecl.clj": Decimal("0.25"),
        "klm.clj": Decimal("0.25"),
    }
    # which strategy wants which symbol survives the merge (and the wire)
    for partial in flow.partials():
        assert partial.signals_data is not None
        assert portfolio.strategy_contributions[partial.dsl_file] == partial.signals_data.scaled_weights()
    assert [s.strategy for s in signal.signals_data] == ["nuclear.clj", "tecl.clj", "klm.clj"]
    assert all(s.trace_s3_key and s.trace_summary for s in signal.signals_data)

    # every partial redelivered after completion: nothing changes
    for envelope in flow.partial_envelopes:
        assert aggregator_handler(envelope, None)["action"] == "already_decided"
    flow.pump()
    session = lambda_env.sessions.get_session(started["session_id"])
    assert session is not None and session.status is SessionStatus.COMPLETED
    assert len(flow.outcomes()) == 1


def test_one_worker_failing_ends_the_workflow_at_once(
    lambda_env: LambdaEnvironment,  # noqa: F811
    tmp_path: Path,
) -> None:
    folder = strategies_folder(tmp_path, '[local]\n"nuclear.clj" = 0.5\n"broken.clj" = 0.25\n"klm.clj" = 0.25\n')
    flow = workflow_for(lambda_env, folder)
    started = flow.start()
    payloads = {p["dsl_file"]: p for p in flow.worker_payloads()}

    flow.run_worker(payloads["broken.clj"])  # first to answer, the others still running
    [failed] = flow.outcomes()
    assert isinstance(failed, WorkflowFailed)
    assert failed.correlation_id == started["correlation_id"] and failed.failure_step == "strategy"
    assert set(failed.error_details["failed_strategies"]) == {"broken.clj"}
    assert "broken.clj:2:17" in failed.error_details["failed_strategies"]["broken.clj"]

    for name in ("klm.clj", "nuclear.clj"):  # the rest finish: no signal, no second outcome
        flow.run_worker(payloads[name])
    assert len(flow.outcomes()) == 1 and not any(isinstance(e, SignalGenerated) for e in flow.seen)


def test_one_worker_never_answering_ends_the_workflow_at_the_deadline_by_itself(
    lambda_env: LambdaEnvironment,  # noqa: F811
    tmp_path: Path,
) -> None:
    flow = workflow_for(lambda_env, strategies_folder(tmp_path), deadline_seconds=2)
    started = flow.start()
    payloads = {p["dsl_file"]: p for p in flow.worker_payloads()}
    flow.pump()
    assert [type(e) for e in flow.seen] == [WorkflowStarted]
    for name in ("klm.clj", "nuclear.clj"):  # tecl.clj's invocation is lost
        flow.run_worker(payloads[name])
    assert flow.outcomes() == []

    flow.deliver_deadline(wait_seconds=10)  # nobody sends it: the delayed message becomes visible
    [failed] = flow.outcomes()
    assert isinstance(failed, WorkflowFailed)
    assert failed.correlation_id == started["correlation_id"] and failed.failure_step == "aggregation"
    assert failed.error_details["missing_strategies"] == ["tecl.clj"]
    assert "tecl.clj" in failed.failure_reason and "no trading" in failed.failure_reason

    flow.run_worker(payloads["tecl.clj"])  # the straggler: too late, changes nothing
    assert len(flow.outcomes()) == 1
    session = lambda_env.sessions.get_session(started["session_id"])
    assert session is not None and session.status is SessionStatus.FAILED
