"""Orchestrator fixtures: in-memory sessions, moto Lambda (no docker) and SQS, a strategies folder."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import REGION, unique_name
from tests.fixtures.idempotency import MemoryOnce
from tests.fixtures.sessions import MemorySessionStore
from the_alchemiser.coordinator_v2.ports import LambdaWorkerInvoker, SqsDeadlineScheduler
from the_alchemiser.coordinator_v2.service import OrchestratorConfig, StrategyOrchestrator
from the_alchemiser.shared.calendar import FixedClock, nyse_calendar
from the_alchemiser.shared.events import InMemoryPublisher
from the_alchemiser.shared.sessions.ports import SessionStore

WORKER_FUNCTION = "alchemiser-test-strategy-worker"
STAGE = "local"
REGULAR_DAY = date(2026, 11, 20)  # a Friday, regular close
ALLOCATIONS_TOML = """
[local]
"alpha.clj" = 0.5
"beta.clj" = 0.3
"gamma.clj" = 0.2

[prod]
"alpha.clj" = 1.0
"""


def write_strategies(folder: Path, toml: str = ALLOCATIONS_TOML) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("alpha", "beta", "gamma"):
        (folder / f"{name}.clj").write_text(f'(defsymphony "{name}" {{}} (asset "SPY" nil))\n')
    (folder / "allocations.toml").write_text(toml)
    return folder


@dataclass
class OrchestratorRig:
    orchestrator: StrategyOrchestrator
    sessions: MemorySessionStore
    publisher: InMemoryPublisher
    clock: FixedClock
    invokes: list[dict[str, Any]]
    sqs: Any
    queue_url: str
    strategies_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def deadline_messages(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds, AttributeNames=["All"]
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages


def _zip_of_handler() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def build_rig(
    strategies_dir: Path, deadline: timedelta = timedelta(minutes=10), sessions: SessionStore | None = None
) -> OrchestratorRig:
    """Needs moto active. The Lambda client records every Invoke call's parameters as moto accepts them.
    Sessions in memory unless given (the SessionStore contract: tests/shared/test_session_store.py)."""
    sessions = sessions if sessions is not None else MemorySessionStore()

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=unique_name("worker-role"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_client = boto3.client("lambda", region_name=REGION)
    lambda_client.create_function(
        FunctionName=WORKER_FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": _zip_of_handler()},
    )
    invokes: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        invokes.append(dict(params))

    lambda_client.meta.events.register("provide-client-params.lambda.Invoke", record)

    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=unique_name("deadlines"))["QueueUrl"]
    publisher = InMemoryPublisher()
    run_time = nyse_calendar().run_time(REGULAR_DAY)
    assert run_time is not None
    clock = FixedClock(run_time)
    orchestrator = StrategyOrchestrator(
        sessions=sessions,
        once=MemoryOnce(),
        invoker=LambdaWorkerInvoker(lambda_client, WORKER_FUNCTION),
        deadlines=SqsDeadlineScheduler(sqs, queue_url),
        publisher=publisher,
        clock=clock,
        calendar=nyse_calendar(),
        config=OrchestratorConfig(stage=STAGE, strategies_dir=strategies_dir, deadline=deadline),
    )
    return OrchestratorRig(orchestrator, sessions, publisher, clock, invokes, sqs, queue_url, strategies_dir)


@pytest.fixture
def rig(moto_aws: None, tmp_path: Path) -> OrchestratorRig:
    return build_rig(write_strategies(tmp_path / "strategies"))
