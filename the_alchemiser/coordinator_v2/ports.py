"""The orchestrator's two AWS side effects behind small ports: invoking workers, scheduling the deadline."""

from __future__ import annotations

from typing import Any, Protocol

from the_alchemiser.shared.schemas import StrategyWorkerRequest
from the_alchemiser.shared.sessions import SessionDeadline

MAX_SQS_DELAY_SECONDS = 900


class WorkerInvokeError(RuntimeError):
    """Lambda did not accept the asynchronous invocation."""


class WorkerInvoker(Protocol):
    def invoke(self, request: StrategyWorkerRequest) -> None: ...


class DeadlineScheduler(Protocol):
    def schedule(self, deadline: SessionDeadline, delay_seconds: int) -> None: ...


class LambdaWorkerInvoker:
    """Async invoke (InvocationType=Event): Lambda queues it and retries a failing worker by itself."""

    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._lambda = lambda_client
        self._function_name = function_name

    def invoke(self, request: StrategyWorkerRequest) -> None:
        response = self._lambda.invoke(
            FunctionName=self._function_name,
            InvocationType="Event",
            Payload=request.model_dump_json().encode(),
        )
        if response.get("StatusCode") != 202:
            raise WorkerInvokeError(
                f"{self._function_name} refused the async invoke for {request.dsl_file}: {response.get('StatusCode')}"
            )


class SqsDeadlineScheduler:
    """A delayed message on SessionDeadlineQueue: the deadline fires by itself, not by a later event."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._queue_url = queue_url

    def schedule(self, deadline: SessionDeadline, delay_seconds: int) -> None:
        if not 0 <= delay_seconds <= MAX_SQS_DELAY_SECONDS:
            raise ValueError(f"SQS delays at most {MAX_SQS_DELAY_SECONDS} s, not {delay_seconds}")
        self._sqs.send_message(
            QueueUrl=self._queue_url, MessageBody=deadline.model_dump_json(), DelaySeconds=delay_seconds
        )
