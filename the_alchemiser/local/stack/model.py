"""template.yaml read as the local stack needs it: resources with physical names, functions, routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from the_alchemiser.local.stack.intrinsics import ACCOUNT_ID, REGION, Resolver, TemplateError
from the_alchemiser.local.stack.patterns import PatternError, check_pattern
from the_alchemiser.local.stack.target_input import TargetInput

SAM_FUNCTION = "AWS::Serverless::Function"
NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Events::EventBus": "Name",
    SAM_FUNCTION: "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SecretsManager::Secret": "Name",
}
ARN_SERVICE = {
    "AWS::DynamoDB::Table": ("dynamodb", "table/"),
    "AWS::SQS::Queue": ("sqs", ""),
    "AWS::S3::Bucket": ("s3", ""),
    "AWS::SNS::Topic": ("sns", ""),
    "AWS::Events::EventBus": ("events", "event-bus/"),
    SAM_FUNCTION: ("lambda", "function:"),
    "AWS::Lambda::Function": ("lambda", "function:"),
    "AWS::SecretsManager::Secret": ("secretsmanager", "secret:"),
}


@dataclass(frozen=True)
class RouteTarget:
    """A rule's target: a function or queue (logical id), and what of the event it receives."""

    resource: str
    input: TargetInput = field(default_factory=TargetInput)


@dataclass(frozen=True)
class Route:
    """An EventBridge rule: events on `bus` matching `pattern` go to each target."""

    name: str
    bus: str
    pattern: dict[str, Any]
    targets: tuple[RouteTarget, ...]
    rule_name: str = ""  # the rule's physical name (InputTransformer's <aws.events.rule-name>)

    @property
    def target_ids(self) -> tuple[str, ...]:
        return tuple(target.resource for target in self.targets)


@dataclass(frozen=True)
class QueueSource:
    """An SQS event source mapping: `queue` feeds `function` in batches."""

    queue: str
    function: str
    batch_size: int
    report_batch_item_failures: bool
    batching_window: int = 0  # MaximumBatchingWindowInSeconds


@dataclass(frozen=True)
class ScheduleTrigger:
    name: str
    expression: str
    timezone: str | None
    function: str
    input: str | None


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    code_uri: str
    environment: dict[str, str]
    timeout: int
    # asynchronous invocation (EventInvokeConfig, DeadLetterQueue), with Lambda's defaults
    async_retries: int = 2  # MaximumRetryAttempts
    max_event_age: int = 21600  # MaximumEventAgeInSeconds
    dead_letter: str | None = None  # logical id of the DLQ (SQS queue or SNS topic)
    on_failure: str | None = None  # logical id of the OnFailure destination
    on_success: str | None = None


@dataclass
class StackModel:
    template: dict[str, Any]
    stage: str
    physical_names: dict[str, str]
    resource_types: dict[str, str]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    queue_sources: list[QueueSource] = field(default_factory=list)
    schedules: list[ScheduleTrigger] = field(default_factory=list)
    resolver: Resolver | None = None

    def of_type(self, resource_type: str) -> list[str]:
        return [lid for lid, t in self.resource_types.items() if t == resource_type]

    def properties(self, logical_id: str) -> dict[str, Any]:
        assert self.resolver is not None
        resource = self.template["Resources"][logical_id]
        props: dict[str, Any] = self.resolver.resolve(resource.get("Properties", {}))
        return props

    def queue_url(self, logical_id: str) -> str:
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{self.physical_names[logical_id]}"

    def arn(self, logical_id: str) -> str:
        resource_type = self.resource_types[logical_id]
        name = self.physical_names[logical_id]
        service, prefix = ARN_SERVICE.get(resource_type, ("cloudformation", ""))
        if service == "s3":
            return f"arn:aws:s3:::{name}"
        return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{prefix}{name}"

    def logical_id_for_arn(self, arn: str) -> str:
        for logical_id in self.resource_types:
            if logical_id in self.physical_names and self.arn(logical_id) == arn:
                return logical_id
        raise TemplateError(f"no resource in the template has ARN {arn}")


def load_stack_model(template_path: Path, stage: str = "local") -> StackModel:
    from the_alchemiser.local.template import load_template

    template = load_template(template_path)
    resources: dict[str, Any] = template.get("Resources", {})
    model = StackModel(
        template=template,
        stage=stage,
        physical_names={},
        resource_types={lid: r["Type"] for lid, r in resources.items()},
    )
    model.resolver = Resolver(template, {"Stage": stage}, lambda lid, attr: _attribute(model, lid, attr))
    for logical_id, resource_type in model.resource_types.items():
        if resource_type in NAME_PROPERTY:
            raw = resources[logical_id].get("Properties", {}).get(NAME_PROPERTY[resource_type])
            name = model.resolver.resolve(raw) if raw is not None else f"alchemiser-{stage}-{logical_id}"
            model.physical_names[logical_id] = name.lower() if resource_type == "AWS::S3::Bucket" else name
    _read_functions(model, resources)
    _read_rules(model, resources)
    return model


def _attribute(model: StackModel, logical_id: str, attribute: str) -> str:
    if logical_id not in model.resource_types:
        raise TemplateError(f"reference to unknown resource {logical_id}")
    resource_type = model.resource_types[logical_id]
    if logical_id not in model.physical_names:
        return f"{logical_id}-{attribute}" if attribute != "Ref" else logical_id
    name = model.physical_names[logical_id]
    if attribute == "Ref":
        if resource_type == "AWS::SQS::Queue":
            return model.queue_url(logical_id)
        if resource_type in ("AWS::SNS::Topic", "AWS::SecretsManager::Secret"):
            return model.arn(logical_id)
        return name
    if attribute == "Arn":
        return model.arn(logical_id)
    if attribute in ("QueueName", "TopicName", "Name"):
        return name
    if attribute == "QueueUrl":
        return model.queue_url(logical_id)
    if attribute == "TopicArn":
        return model.arn(logical_id)
    return f"{name}-{attribute}"


def _read_functions(model: StackModel, resources: dict[str, Any]) -> None:
    assert model.resolver is not None
    globals_fn = model.template.get("Globals", {}).get("Function", {})
    global_env = model.resolver.resolve(globals_fn.get("Environment", {}).get("Variables", {}))
    for logical_id in model.of_type(SAM_FUNCTION):
        props = resources[logical_id].get("Properties", {})
        env = dict(global_env)
        env.update(model.resolver.resolve(props.get("Environment", {}).get("Variables", {})))
        spec = FunctionSpec(
            logical_id=logical_id,
            name=model.physical_names[logical_id],
            handler=props.get("Handler", globals_fn.get("Handler", "")),
            code_uri=str(model.resolver.resolve(props.get("CodeUri", globals_fn.get("CodeUri", ".")))),
            environment={k: str(v) for k, v in env.items()},
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
        )
        dead_letter = model.resolver.resolve(props.get("DeadLetterQueue", globals_fn.get("DeadLetterQueue")))
        if dead_letter:
            spec.dead_letter = model.logical_id_for_arn(dead_letter["TargetArn"])
        invoke_config = props.get("EventInvokeConfig", globals_fn.get("EventInvokeConfig"))
        if invoke_config:
            _apply_invoke_config(model, spec, model.resolver.resolve(invoke_config))
        model.functions[logical_id] = spec
        for event_name, event in props.get("Events", {}).items():
            _read_function_event(model, logical_id, event_name, event)


def _apply_invoke_config(model: StackModel, spec: FunctionSpec, config: dict[str, Any]) -> None:
    """EventInvokeConfig (SAM's property or an AWS::Lambda::EventInvokeConfig): retries, age, destinations."""
    spec.async_retries = int(config.get("MaximumRetryAttempts", spec.async_retries))
    spec.max_event_age = int(config.get("MaximumEventAgeInSeconds", spec.max_event_age))
    if not 0 <= spec.async_retries <= 2 or not 60 <= spec.max_event_age <= 21600:
        raise TemplateError(f"{spec.logical_id}: EventInvokeConfig outside Lambda's limits: {config}")
    destinations = config.get("DestinationConfig", {})
    for outcome in ("OnFailure", "OnSuccess"):
        if outcome not in destinations:
            continue
        destination = destinations[outcome].get("Destination")
        if destination is None:
            raise TemplateError(f"{spec.logical_id}: {outcome} has no Destination (SAM would create one)")
        else:
            logical_id = model.logical_id_for_arn(destination)
            if model.resource_types[logical_id] not in DESTINATION_TYPES:
                raise TemplateError(f"{spec.logical_id}: {outcome} destination {logical_id} is not SQS, SNS or Lambda")
            setattr(spec, "on_failure" if outcome == "OnFailure" else "on_success", logical_id)


DESTINATION_TYPES = ("AWS::SQS::Queue", "AWS::SNS::Topic", SAM_FUNCTION)


def _read_function_event(model: StackModel, function: str, event_name: str, event: dict[str, Any]) -> None:
    assert model.resolver is not None
    kind = event.get("Type")
    props = model.resolver.resolve(event.get("Properties", {}))
    name = f"{function}.{event_name}"
    if kind in ("EventBridgeRule", "CloudWatchEvent"):
        bus = props.get("EventBusName", "default")
        target = RouteTarget(function, TargetInput.of(props, name))
        model.routes.append(Route(name, bus, _checked(props["Pattern"], name), (target,), props.get("RuleName", name)))
    elif kind == "SQS":
        _add_queue_source(model, name, model.logical_id_for_arn(props["Queue"]), function, props)
    elif kind in ("Schedule", "ScheduleV2"):
        model.schedules.append(
            ScheduleTrigger(
                name=name,
                expression=props.get("Schedule") or props.get("ScheduleExpression", ""),
                timezone=props.get("ScheduleExpressionTimezone"),
                function=function,
                input=props.get("Input"),
            )
        )


def _checked(pattern: Any, where: str) -> dict[str, Any]:
    try:
        check_pattern(pattern)
    except PatternError as exc:
        raise PatternError(f"{where}: {exc}") from exc
    checked: dict[str, Any] = pattern
    return checked


def _add_queue_source(model: StackModel, where: str, queue: str, function: str, props: dict[str, Any]) -> None:
    """An SQS event source mapping, refused where Lambda would refuse it."""
    if props.get("Enabled", True) is False:
        return
    batch_size = int(props.get("BatchSize", 10))
    window = int(props.get("MaximumBatchingWindowInSeconds", 0))
    if not 1 <= batch_size <= 10000:
        raise TemplateError(f"{where}: BatchSize {batch_size} is outside 1..10000")
    if batch_size > 10 and window < 1:
        raise TemplateError(f"{where}: BatchSize {batch_size} > 10 needs MaximumBatchingWindowInSeconds >= 1")
    visibility = int(model.properties(queue).get("VisibilityTimeout", 30))
    timeout = model.functions[function].timeout
    if visibility < timeout:
        raise TemplateError(
            f"{where}: {queue}'s VisibilityTimeout ({visibility} s) is less than {function}'s Timeout ({timeout} s)"
            " (Lambda refuses the mapping)"
        )
    model.queue_sources.append(
        QueueSource(
            queue=queue,
            function=function,
            batch_size=batch_size,
            report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            batching_window=window,
        )
    )


def _read_rules(model: StackModel, resources: dict[str, Any]) -> None:
    for logical_id in model.of_type("AWS::Events::Rule"):
        props = model.properties(logical_id)
        if props.get("State", "ENABLED") != "ENABLED" or "EventPattern" not in props:
            continue
        targets = tuple(_route_target(model, t, f"{logical_id} target {t.get('Id')}") for t in props.get("Targets", []))
        pattern = _checked(props["EventPattern"], logical_id)
        model.routes.append(
            Route(logical_id, props.get("EventBusName", "default"), pattern, targets, props.get("Name", logical_id))
        )
    for logical_id in model.of_type("AWS::Scheduler::Schedule"):
        props = model.properties(logical_id)
        target = props["Target"]
        model.schedules.append(
            ScheduleTrigger(
                name=logical_id,
                expression=props.get("ScheduleExpression", ""),
                timezone=props.get("ScheduleExpressionTimezone"),
                function=model.logical_id_for_arn(target["Arn"]),
                input=target.get("Input"),
            )
        )
    for logical_id in model.of_type("AWS::Lambda::EventSourceMapping"):
        props = model.properties(logical_id)
        function = _function_named(model, logical_id, props["FunctionName"])
        _add_queue_source(model, logical_id, model.logical_id_for_arn(props["EventSourceArn"]), function, props)
    for logical_id in model.of_type("AWS::Lambda::EventInvokeConfig"):
        props = model.properties(logical_id)
        spec = model.functions[_function_named(model, logical_id, props["FunctionName"])]
        _apply_invoke_config(model, spec, props)


def _route_target(model: StackModel, target: dict[str, Any], where: str) -> RouteTarget:
    resource = model.logical_id_for_arn(target["Arn"])
    if model.resource_types[resource] not in TARGET_TYPES:
        raise TemplateError(f"{where}: the local router delivers to functions, queues and topics, not {resource}")
    return RouteTarget(resource, TargetInput.of(target, where))


TARGET_TYPES = (SAM_FUNCTION, "AWS::SQS::Queue", "AWS::SNS::Topic")


def _function_named(model: StackModel, where: str, reference: str) -> str:
    """The logical id of the function a FunctionName (name, ARN or logical id) refers to."""
    for logical_id in model.functions:
        if reference in (model.physical_names[logical_id], model.arn(logical_id), logical_id):
            return logical_id
    raise TemplateError(f"{where}: unknown function {reference}")
