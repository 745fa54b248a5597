"""Routes events between the handlers exactly as template.yaml declares: its rules' patterns and
targets, its SQS event sources, its schedules, and the orchestrator's async invokes.

moto hosts the bus, queues, tables, buckets and topics; it does not run Lambda, so this router
captures `PutEvents` and async `Invoke` calls (botocore hooks), matches each event against the
template's rules itself, and calls the target handlers in-process with AWS-shaped events.

As strict as AWS where AWS is strict (issue #17):
- SQS event sources: a batch of up to BatchSize; without ReportBatchItemFailures a returned
  batchItemFailures means nothing (the batch succeeded), a raise retries the whole batch; with it only the
  listed messages are retried (an invalid list fails the whole batch). A failed message stays in flight for
  the queue's VisibilityTimeout and the queue's RedrivePolicy moves it to its DLQ after maxReceiveCount.
- Async invocations (InvocationType=Event, EventBridge and Scheduler targets): a failure is retried
  MaximumRetryAttempts times (EventInvokeConfig, default 2) after Lambda's delays (one minute, then two),
  other work running meanwhile; then the event goes to the function's DeadLetterQueue and OnFailure
  destination, or is dropped (and logged) as AWS would drop it.
- Waits (retry delays, visibility timeouts, an SQS message's DelaySeconds or its queue's) are counted on the
  router's clock (`now`, seconds), not slept: when nothing else can run, the router moves `now` to the next
  wait's end, and tells `on_wait` (the local day moves its broker's clock by as much, as time would pass). A
  delayed message is held by the router and sent when its delay is over (moto would make it wait in real
  time: the session deadline would never come in a local day).
- A handler's context counts its remaining time down from the function's Timeout on `clock` (real time by
  default; the local day adds its simulated time); an invocation that outlives its Timeout fails."""

from __future__ import annotations

import hashlib
import heapq
import importlib
import importlib.util
import itertools
import json
import os
import random
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from the_alchemiser.local.stack.intrinsics import ACCOUNT_ID, REGION
from the_alchemiser.local.stack.model import FunctionSpec, QueueSource, StackModel
from the_alchemiser.shared.config.settings import get_settings
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.stamps import stamp_now

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MAX_SQS_DELAY_SECONDS = 900
ASYNC_RETRY_DELAYS = (60.0, 120.0)  # Lambda waits a minute before the second attempt, two before the third
log = get_logger(__name__)


class RoutingError(RuntimeError):
    """The local run could not settle (a loop, or an event nobody may receive)."""


@dataclass
class LocalLambdaContext:
    """The Lambda context a handler gets: its remaining time is the Timeout minus the time `clock` says
    has passed since the invocation began."""

    function_name: str
    timeout_seconds: int
    clock: Callable[[], float] = time.monotonic
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def elapsed_seconds(self) -> float:
        return self.clock() - self.started

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - self.elapsed_seconds()) * 1000))


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
    error_type: str | None = None
    attempt: int = 1  # of an async invocation: 1, then each retry
    at: float = 0.0  # the router's clock (seconds of counted waits) when it ran


@dataclass(frozen=True)
class _Invocation:
    """An async invocation waiting to run (or to be retried)."""

    function: str
    trigger: str
    event: Any
    detail_type: str | None
    first_at: float  # the router's clock when the event arrived: its age counts from here
    attempt: int = 1
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class _InFlight:
    """A failed SQS message, invisible until the router's clock reaches `visible_at`."""

    queue_url: str
    receipt_handle: str
    visible_at: float


@dataclass(frozen=True)
class _HeldMessage:
    """An SQS message sent with a delay: the router sends it (with no delay left) once `due` is reached."""

    params: dict[str, Any]  # SendMessage's parameters, as the sender gave them


@dataclass
class LocalRouter:
    model: StackModel
    env_overrides: dict[str, str] = field(default_factory=dict)
    on_delivery: Callable[[Delivery], None] | None = None
    duplicate_events: bool = False
    shuffle_seed: int | None = None
    max_deliveries: int = 5000
    clock: Callable[[], float] = time.monotonic  # an invocation's elapsed time (its remaining time)
    on_wait: Callable[[float], None] | None = None  # told each wait's seconds (the local broker's clock moves)
    published: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    now: float = 0.0  # seconds of waits counted (retry delays, visibility timeouts), never slept
    _pending: deque[_Invocation] = field(default_factory=deque)
    _delayed: list[tuple[float, int, _Invocation]] = field(default_factory=list)  # a heap by due time
    _in_flight: dict[str, _InFlight] = field(default_factory=dict)  # by message id
    _held: list[tuple[float, int, _HeldMessage]] = field(default_factory=list)  # delayed sends, a heap by due time
    _queue_delay: dict[str, int] = field(default_factory=dict)  # queue URL -> DelaySeconds
    _sequence: Iterator[int] = field(default_factory=itertools.count)
    _handlers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    _visibility: dict[str, float] = field(default_factory=dict)  # queue URL -> VisibilityTimeout

    # -- capture -----------------------------------------------------------------------------
    @contextmanager
    def installed(self) -> Iterator[LocalRouter]:
        events = boto3._get_default_session().events
        events.register("before-parameter-build.events.PutEvents", self._capture_put_events, unique_id="alc-put")
        events.register("before-call.lambda.Invoke", self._capture_invoke, unique_id="alc-invoke")  # type: ignore[arg-type]
        events.register("before-parameter-build.sqs.SendMessage", self._hold_delayed, unique_id="alc-hold")
        events.register("before-call.sqs.SendMessage", self._answer_held, unique_id="alc-held")  # type: ignore[arg-type]
        events.register("before-parameter-build.sqs.SendMessageBatch", self._refuse_delayed_batch, unique_id="alc-b")
        reset_warm_caches()
        try:
            yield self
        finally:
            reset_warm_caches()
            events.unregister("before-parameter-build.events.PutEvents", unique_id="alc-put")
            events.unregister("before-call.lambda.Invoke", unique_id="alc-invoke")
            events.unregister("before-parameter-build.sqs.SendMessage", unique_id="alc-hold")
            events.unregister("before-call.sqs.SendMessage", unique_id="alc-held")
            events.unregister("before-parameter-build.sqs.SendMessageBatch", unique_id="alc-b")

    def _capture_put_events(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params.get("Entries", []):
            envelope = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": ACCOUNT_ID,
                "time": stamp_now().strftime("%Y-%m-%dT%H:%M:%SZ"),  # the local day's simulated time
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
        self._pending.append(_Invocation(function.logical_id, "invoke", payload, None, self.now))
        return AWSResponse("", 202, HTTPHeaders(), None), {
            "StatusCode": 202,
            "ResponseMetadata": {"HTTPStatusCode": 202},
        }

    def _delay_of(self, params: dict[str, Any]) -> int:
        """The message's DelaySeconds, else its queue's (SQS: the message's overrides the queue's)."""
        if "DelaySeconds" in params:
            return int(params["DelaySeconds"])
        url = params["QueueUrl"]
        if url not in self._queue_delay:
            attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"]
            self._queue_delay[url] = int(attributes.get("DelaySeconds", 0))
        return self._queue_delay[url]

    def _hold_delayed(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """A delayed send waits on the router's clock, not in moto's real time: held, sent when due."""
        delay = self._delay_of(params)
        if 0 < delay <= MAX_SQS_DELAY_SECONDS:  # outside SQS's range: sent as is, for SQS to refuse
            held = _HeldMessage({**params, "DelaySeconds": 0})
            heapq.heappush(self._held, (self.now + delay, next(self._sequence), held))
            context["alchemiser_held"] = str(params["MessageBody"])  # for the answer, below

    def _answer_held(self, context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        """SQS's answer to a held send (its message id is not the one the queue will give it)."""
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        body = context.get("alchemiser_held")
        if body is None:
            return None
        return AWSResponse("", 200, HTTPHeaders(), None), {
            "MessageId": str(uuid.uuid4()),
            "MD5OfMessageBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    def _refuse_delayed_batch(self, params: dict[str, Any], **_: Any) -> None:
        if any(self._delay_of({"QueueUrl": params["QueueUrl"], **entry}) for entry in params.get("Entries", [])):
            raise RoutingError("a delayed SendMessageBatch is not counted on the local router's clock: use SendMessage")

    # -- routing -----------------------------------------------------------------------------
    def _route(self, bus: str, envelope: dict[str, Any]) -> None:
        from the_alchemiser.local.stack.patterns import matches

        copies = 2 if self.duplicate_events else 1
        for route in self.model.routes:
            if self._bus_name(route.bus) != bus or not matches(route.pattern, envelope):
                continue
            rule = route.rule_name
            rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/" + (rule if bus == "default" else f"{bus}/{rule}")
            for target in route.targets:
                for _ in range(copies):
                    text = target.input.render(envelope, rule, rule_arn)
                    self._send_to(target.resource, text, f"event:{envelope['detail-type']}", envelope["detail-type"])

    def _bus_name(self, bus: str) -> str:
        return bus.rsplit("/", 1)[-1]

    def _send_to(self, resource: str, text: str, trigger: str, detail_type: str | None) -> None:
        """`text` to a target: a function's async invocation (JSON), a queue's message, a topic's message."""
        resource_type = self.model.resource_types[resource]
        if resource in self.model.functions:
            try:
                payload = json.loads(text)
            except ValueError as exc:
                raise RoutingError(f"{resource} would be invoked with {text!r}, not a JSON payload") from exc
            self._pending.append(_Invocation(resource, trigger, payload, detail_type, self.now))
        elif resource_type == "AWS::SQS::Queue":
            self._sqs.send_message(QueueUrl=self.model.queue_url(resource), MessageBody=text)
        elif resource_type == "AWS::SNS::Topic":
            self._sns.publish(TopicArn=self.model.arn(resource), Message=text)
        else:
            raise RoutingError(f"target {resource} ({resource_type}) is neither a function, a queue nor a topic")

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
        # Scheduler invokes a function asynchronously; a queue gets the input as the message body
        self._send_to(schedule.function, json.dumps(json.loads(raw)), "schedule", None)

    def enqueue(self, function: str, event: dict[str, Any], trigger: str) -> None:
        """An asynchronous invocation by hand (an operator's manual run)."""
        self._pending.append(_Invocation(function, trigger, event, None, self.now))

    def run_until_idle(self) -> list[Delivery]:
        """Deliver until nothing is left: pending invocations first, then visible queue messages, then
        (moving the router's clock on) retries and messages whose wait is over."""
        start = len(self.deliveries)
        while True:
            progressed = False
            while self._pending:
                self._check_budget()
                if self.shuffle_seed is not None and len(self._pending) > 1:
                    items = list(self._pending)
                    random.Random(self.shuffle_seed + len(self.deliveries)).shuffle(items)
                    self._pending = deque(items)
                self._invoke_async(self._pending.popleft())
                progressed = True
            for source in self.model.queue_sources:
                progressed |= self._poll_queue(source)
            if not progressed and not self._wait_for_the_next():
                return self.deliveries[start:]

    def _check_budget(self) -> None:
        if len(self.deliveries) >= self.max_deliveries:
            raise RoutingError(f"more than {self.max_deliveries} deliveries: the workflow does not settle")

    def _wait_for_the_next(self) -> bool:
        """Move the clock to the end of the next wait and release what it held; False when none is left."""
        due = [entry[0] for entry in self._delayed + self._held] + [m.visible_at for m in self._in_flight.values()]
        if not due:
            return False
        waited = max(0.0, min(due) - self.now)
        self.now += waited
        if waited and self.on_wait is not None:
            self.on_wait(waited)
        while self._delayed and self._delayed[0][0] <= self.now:
            self._pending.append(heapq.heappop(self._delayed)[2])
        while self._held and self._held[0][0] <= self.now:
            self._sqs.send_message(**heapq.heappop(self._held)[2].params)
        for message_id, message in list(self._in_flight.items()):
            if message.visible_at <= self.now:
                del self._in_flight[message_id]
                with suppress(self._sqs.exceptions.ClientError):  # deleted meanwhile (by the handler itself)
                    self._sqs.change_message_visibility(
                        QueueUrl=message.queue_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0
                    )
        return True

    # -- async invocation --------------------------------------------------------------------
    def _invoke_async(self, invocation: _Invocation) -> None:
        spec = self.model.functions[invocation.function]
        delivery = self.invoke(
            invocation.function,
            invocation.event,
            invocation.trigger,
            invocation.detail_type,
            attempt=invocation.attempt,
            request_id=invocation.request_id,
        )
        if delivery.ok:
            if spec.on_success:
                self._send_record(spec.on_success, _record(spec, invocation, delivery, "Success"))
            return
        if invocation.attempt <= spec.async_retries:
            due = self.now + ASYNC_RETRY_DELAYS[min(invocation.attempt, len(ASYNC_RETRY_DELAYS)) - 1]
            if due - invocation.first_at <= spec.max_event_age:
                log.warning(
                    "async invocation failed, retried later",
                    function=invocation.function,
                    attempt=invocation.attempt,
                    retry_in_seconds=due - self.now,
                    error=delivery.error,
                )
                retry = replace(invocation, attempt=invocation.attempt + 1)
                heapq.heappush(self._delayed, (due, next(self._sequence), retry))
                return
            condition = "EventAgeExceeded"
        else:
            condition = "RetriesExhausted"
        self._fail_for_good(spec, invocation, delivery, condition)

    def _fail_for_good(self, spec: FunctionSpec, invocation: _Invocation, delivery: Delivery, condition: str) -> None:
        """The function's DeadLetterQueue gets the event, its OnFailure destination the invocation record."""
        log.error(
            "async invocation failed for good",
            function=invocation.function,
            condition=condition,
            attempts=invocation.attempt,
            error=delivery.error,
            dead_letter_queue=spec.dead_letter,
            on_failure=spec.on_failure,
        )
        if spec.dead_letter:
            attributes = {
                "RequestID": invocation.request_id,
                "ErrorCode": "200",
                "ErrorMessage": (delivery.error or "")[:1000],
            }
            self._send_message(spec.dead_letter, json.dumps(invocation.event), attributes)
        if spec.on_failure:
            self._send_record(spec.on_failure, _record(spec, invocation, delivery, condition))

    def _send_record(self, destination: str, record: dict[str, Any]) -> None:
        if destination in self.model.functions:
            self._pending.append(_Invocation(destination, "destination", record, None, self.now))
        else:
            self._send_message(destination, json.dumps(record), {})

    def _send_message(self, resource: str, body: str, attributes: dict[str, str]) -> None:
        message_attributes = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        if self.model.resource_types[resource] == "AWS::SNS::Topic":
            self._sns.publish(TopicArn=self.model.arn(resource), Message=body, MessageAttributes=message_attributes)
        else:
            url = self.model.queue_url(resource)
            self._sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=message_attributes)

    @cached_property
    def _sqs(self) -> Any:
        """One client for every send and poll (made on first use, inside the emulated AWS)."""
        return boto3.client("sqs", region_name=REGION)

    @cached_property
    def _sns(self) -> Any:
        return boto3.client("sns", region_name=REGION)

    # -- SQS event sources -------------------------------------------------------------------
    def _poll_queue(self, source: QueueSource) -> bool:
        url = self.model.queue_url(source.queue)
        messages: list[dict[str, Any]] = []
        while len(messages) < source.batch_size:
            batch = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, source.batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not batch:
                break
            messages += batch
        if not messages:
            return False
        self._check_budget()
        records = [self._record_of(m, source.queue) for m in messages]
        delivery = self.invoke(source.function, {"Records": records}, f"sqs:{self.model.physical_names[source.queue]}")
        ids = {m["MessageId"] for m in messages}
        if not delivery.ok:
            failed = ids
        elif source.report_batch_item_failures:
            failed = _reported_failures(delivery.response, ids)
        else:
            failed = set()  # AWS ignores what the handler returned: the batch succeeded
        visible_at = self.now + self._visibility_timeout(url)
        for message in messages:
            message_id = message["MessageId"]
            self._in_flight.pop(message_id, None)
            if message_id in failed:  # in flight until its visibility timeout has passed
                self._in_flight[message_id] = _InFlight(url, message["ReceiptHandle"], visible_at)
            else:
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def _record_of(self, message: dict[str, Any], queue: str) -> dict[str, Any]:
        """An SQS message as Lambda's poller hands it to the function."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.model.arn(queue),
            "awsRegion": REGION,
        }

    def _visibility_timeout(self, url: str) -> float:
        if url not in self._visibility:
            attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
            self._visibility[url] = float(attributes["Attributes"]["VisibilityTimeout"])
        return self._visibility[url]

    # -- invocation --------------------------------------------------------------------------
    def invoke(
        self,
        function: str,
        event: Any,
        trigger: str,
        detail_type: str | None = None,
        *,
        attempt: int = 1,
        request_id: str | None = None,
    ) -> Delivery:
        spec = self.model.functions[function]
        handler = self._handler(spec)
        result: dict[str, Any] = {"attempt": attempt, "at": self.now}
        with self._function_environment(spec):
            context = LocalLambdaContext(spec.name, spec.timeout, self.clock)
            if request_id:
                context.aws_request_id = request_id
            try:
                response = handler(event, context)
                ok = True
                result["response"] = response
            except (Exception, SimulatedCrash) as exc:
                ok = False
                result.update(error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__)
        if ok and context.elapsed_seconds() > spec.timeout:  # Lambda would have stopped it: its answer is lost
            ok = False
            result = {
                "attempt": attempt,
                "at": self.now,
                "error": f"Task timed out after {spec.timeout:.2f} seconds",
                "error_type": "Sandbox.Timedout",
            }
        delivery = Delivery(function, trigger, detail_type, ok, **result)
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


def _reported_failures(response: Any, batch: set[str]) -> set[str]:
    """The message ids a ReportBatchItemFailures response names; the whole batch where Lambda would treat
    the response as a complete failure (not an object, or an item naming no message of the batch)."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        return set(batch)
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return set(batch)
    named: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in batch:
            return set(batch)
        named.add(identifier)
    return named


def _record(spec: FunctionSpec, invocation: _Invocation, delivery: Delivery, condition: str) -> dict[str, Any]:
    """The invocation record Lambda sends to an OnSuccess/OnFailure destination."""
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.name}:$LATEST"
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if delivery.ok:
        payload = delivery.response
    else:
        response_context["functionError"] = "Unhandled"
        message = (delivery.error or "").split(": ", 1)[-1]
        payload = {"errorMessage": message, "errorType": delivery.error_type, "stackTrace": []}
    return {
        "version": "1.0",
        "timestamp": stamp_now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": arn,
            "condition": condition,
            "approximateInvokeCount": invocation.attempt,
        },
        "requestPayload": invocation.event,
        "responseContext": response_context,
        "responsePayload": payload,
    }
