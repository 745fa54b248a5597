"""Routes events between the handlers exactly as template.yaml declares: its rules' patterns and
targets, its SQS event sources, its schedules, and the orchestrator's async invokes.

moto hosts the bus, queues, tables, buckets and topics; it does not run Lambda, so this router
captures `PutEvents` and async `Invoke` calls (botocore hooks), matches each event against the
template's rules itself, and calls the target handlers in-process with AWS-shaped events."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import random
import sys
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from the_alchemiser.local.stack.intrinsics import ACCOUNT_ID, REGION
from the_alchemiser.local.stack.model import FunctionSpec, StackModel
from the_alchemiser.shared.config.settings import get_settings
from the_alchemiser.shared.logging import get_logger

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ASYNC_RETRIES = 2  # Lambda retries a failed async invocation twice
log = get_logger("LocalRouter")


class RoutingError(RuntimeError):
    """The local run could not settle (a loop, or an event nobody may receive)."""


@dataclass
class LocalLambdaContext:
    function_name: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


class SimulatedCrash(BaseException):
    """Raised inside a handler to simulate the Lambda process dying (timeout, out of memory): a
    BaseException, so no handler code catches it; the router records a failed invocation and the
    event source retries as AWS would (the SQS message becomes visible again)."""


@dataclass(frozen=True)
class Delivery:
    """One handler invocation the router made, for progress output and tests."""

    function: str
    trigger: str  # "event:<detail-type>", "sqs:<queue>", "invoke", "schedule"
    detail_type: str | None
    ok: bool
    error: str | None = None
    response: Any = None


@dataclass
class LocalRouter:
    model: StackModel
    env_overrides: dict[str, str] = field(default_factory=dict)
    on_delivery: Callable[[Delivery], None] | None = None
    duplicate_events: bool = False
    shuffle_seed: int | None = None
    max_deliveries: int = 5000
    published: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    _pending: deque[tuple[str, str, dict[str, Any], str | None]] = field(default_factory=deque)
    _handlers: dict[str, Callable[..., Any]] = field(default_factory=dict)

    # -- capture -----------------------------------------------------------------------------
    @contextmanager
    def installed(self) -> Iterator[LocalRouter]:
        events = boto3._get_default_session().events
        events.register("before-parameter-build.events.PutEvents", self._capture_put_events, unique_id="alc-put")
        events.register("before-call.lambda.Invoke", self._capture_invoke, unique_id="alc-invoke")  # type: ignore[arg-type]
        reset_warm_caches()
        try:
            yield self
        finally:
            reset_warm_caches()
            events.unregister("before-parameter-build.events.PutEvents", unique_id="alc-put")
            events.unregister("before-call.lambda.Invoke", unique_id="alc-invoke")

    def _capture_put_events(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params.get("Entries", []):
            envelope = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": ACCOUNT_ID,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": entry.get("Resources", []),
                "detail": json.loads(entry["Detail"]),
            }
            self.published.append(envelope)
            bus = entry.get("EventBusName", "default").rsplit("/", 1)[-1]
            self._route(bus, envelope)

    def _capture_invoke(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        name = params["url_path"].split("/functions/", 1)[1].split("/", 1)[0]
        function = self._function_by_name(name)
        payload = json.loads(params["body"] or b"{}")
        invocation_type = params["headers"].get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type != "Event":
            raise RoutingError(f"only async invokes are routed locally, got {invocation_type} for {name}")
        self._pending.append((function.logical_id, "invoke", payload, None))
        return AWSResponse("", 202, HTTPHeaders(), None), {
            "StatusCode": 202,
            "ResponseMetadata": {"HTTPStatusCode": 202},
        }

    # -- routing -----------------------------------------------------------------------------
    def _route(self, bus: str, envelope: dict[str, Any]) -> None:
        from the_alchemiser.local.event_patterns import matches

        copies = 2 if self.duplicate_events else 1
        for route in self.model.routes:
            if self._bus_name(route.bus) != bus or not matches(route.pattern, envelope):
                continue
            for target in route.targets:
                for _ in range(copies):
                    self._deliver_to_target(target, envelope)

    def _bus_name(self, bus: str) -> str:
        return bus.rsplit("/", 1)[-1]

    def _deliver_to_target(self, target: str, envelope: dict[str, Any]) -> None:
        resource_type = self.model.resource_types[target]
        if resource_type == "AWS::SQS::Queue":
            self._sqs.send_message(QueueUrl=self.model.queue_url(target), MessageBody=json.dumps(envelope))
        elif target in self.model.functions:
            self._pending.append((target, f"event:{envelope['detail-type']}", envelope, envelope["detail-type"]))
        else:
            raise RoutingError(f"rule target {target} ({resource_type}) is neither a function nor a queue")

    def trigger_schedule(self, scheduled_time: datetime, name: str | None = None) -> None:
        """Fire the template's schedule (the first, or `name`) as Scheduler would at `scheduled_time`."""
        schedules = [
            s for s in self.model.schedules if s.name == name or (name is None and s.function in self.model.functions)
        ]
        if not schedules:
            raise RoutingError(f"template has no schedule {name or 'that invokes a function'}")
        schedule = schedules[0]
        stamp = scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raw = (schedule.input or "{}").replace("<aws.scheduler.scheduled-time>", stamp)
        raw = raw.replace("<aws.scheduler.execution-id>", str(uuid.uuid4()))
        if schedule.function in self.model.functions:
            self._pending.append((schedule.function, "schedule", json.loads(raw), None))
        else:  # a queue target: Scheduler sends the input as the message body
            self._deliver_to_target(schedule.function, json.loads(raw))

    def enqueue(self, function: str, event: dict[str, Any], trigger: str) -> None:
        """An asynchronous invocation by hand (an operator's manual run)."""
        self._pending.append((function, trigger, event, None))

    def run_until_idle(self) -> list[Delivery]:
        """Deliver until nothing is left: pending invocations first, then visible queue messages."""
        start = len(self.deliveries)
        while True:
            progressed = False
            while self._pending:
                self._check_budget()
                if self.shuffle_seed is not None and len(self._pending) > 1:
                    items = list(self._pending)
                    random.Random(self.shuffle_seed + len(self.deliveries)).shuffle(items)
                    self._pending = deque(items)
                function, trigger, event, detail_type = self._pending.popleft()
                self._invoke_async(function, trigger, event, detail_type)
                progressed = True
            for source in self.model.queue_sources:
                progressed |= self._poll_queue(source.queue, source.function, source.batch_size)
            if not progressed:
                return self.deliveries[start:]

    def _check_budget(self) -> None:
        if len(self.deliveries) >= self.max_deliveries:
            raise RoutingError(f"more than {self.max_deliveries} deliveries: the workflow does not settle")

    def _invoke_async(self, function: str, trigger: str, event: dict[str, Any], detail_type: str | None) -> None:
        for attempt in range(1 + ASYNC_RETRIES):
            delivery = self.invoke(function, event, trigger, detail_type)
            if delivery.ok:
                return
            log.warning("async invocation failed", function=function, attempt=attempt + 1, error=delivery.error)

    @cached_property
    def _sqs(self) -> Any:
        """One client for every send and poll (made on first use, inside the emulated AWS)."""
        return boto3.client("sqs", region_name=REGION)

    def _poll_queue(self, queue: str, function: str, batch_size: int) -> bool:
        sqs = self._sqs
        url = self.model.queue_url(queue)
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=min(batch_size, 10), AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return False
        self._check_budget()
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": self.model.arn(queue),
                "awsRegion": REGION,
            }
            for m in messages
        ]
        delivery = self.invoke(function, {"Records": records}, f"sqs:{self.model.physical_names[queue]}", None)
        failed_ids = {r["messageId"] for r in records} if not delivery.ok else _failed_ids(delivery.response)
        for message in messages:
            if message["MessageId"] in failed_ids:
                # as if the visibility timeout had passed: the next poll redelivers (or the DLQ takes it)
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return True

    # -- invocation --------------------------------------------------------------------------
    def invoke(self, function: str, event: dict[str, Any], trigger: str, detail_type: str | None = None) -> Delivery:
        spec = self.model.functions[function]
        handler = self._handler(spec)
        with self._function_environment(spec):
            try:
                response = handler(event, LocalLambdaContext(spec.name, spec.timeout))
                delivery = Delivery(function, trigger, detail_type, True, response=response)
            except (Exception, SimulatedCrash) as exc:
                delivery = Delivery(function, trigger, detail_type, False, error=f"{type(exc).__name__}: {exc}")
        self.deliveries.append(delivery)
        if self.on_delivery:
            self.on_delivery(delivery)
        return delivery

    @contextmanager
    def _function_environment(self, spec: FunctionSpec) -> Iterator[None]:
        saved = dict(os.environ)
        os.environ.update(spec.environment)
        os.environ.update(self.env_overrides)
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = spec.name
        get_settings.cache_clear()
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)
            get_settings.cache_clear()

    def _handler(self, spec: FunctionSpec) -> Callable[..., Any]:
        if spec.logical_id not in self._handlers:
            self._handlers[spec.logical_id] = load_handler(spec)
        return self._handlers[spec.logical_id]

    def _function_by_name(self, name: str) -> FunctionSpec:
        for spec in self.model.functions.values():
            if name in (spec.name, spec.logical_id) or name.endswith(f":function:{spec.name}"):
                return spec
        raise RoutingError(f"async invoke of {name}: no such function in the template")


def load_handler(spec: FunctionSpec) -> Callable[..., Any]:
    """The handler as Lambda would load it: `module.function` relative to the function's CodeUri."""
    module_name, _, attribute = spec.handler.rpartition(".")
    code_dir = (PROJECT_ROOT / spec.code_uri).resolve()
    module_file = code_dir / (module_name.replace(".", "/") + ".py")
    module: ModuleType
    if module_file.is_file():
        unique = f"_alchemiser_fn_{spec.logical_id}"
        module_spec = importlib.util.spec_from_file_location(unique, module_file)
        if module_spec is None or module_spec.loader is None:
            raise RoutingError(f"cannot load {module_file}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    handler: Callable[..., Any] = getattr(module, attribute)
    return handler


def reset_warm_caches() -> None:
    """Forget what handlers built once per process (wiring caches: clients, clock, settings).

    In AWS each function keeps one configuration for its life; locally one process hosts every function
    for several runs (days, tests), so a run must not inherit the last run's endpoints or clock."""
    for name, module in list(sys.modules.items()):
        if not (name.startswith("the_alchemiser.") and name.endswith(".wiring")):
            continue
        for attribute in vars(module).values():
            clear = getattr(attribute, "cache_clear", None)
            if callable(clear) and getattr(attribute, "__module__", None) == name:
                clear()
    get_settings.cache_clear()


def _failed_ids(response: Any) -> set[str]:
    if isinstance(response, dict):
        return {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    return set()
