"""The local stack reads template.yaml (the_alchemiser.local.stack.model): it must load it whole and route
every published event the way the template's rules do in AWS."""

from __future__ import annotations

import json

import pytest

from tests.infra.wiring import EXPECTED_TARGETS, FUNCTION_NAMES, FUNCTIONS, REPO, TEMPLATE_PATH, sample_events
from tests.infra.wiring import published_envelope as envelope_of
from the_alchemiser.local.stack.model import StackModel, load_stack_model
from the_alchemiser.local.stack.patterns import matches


@pytest.fixture(scope="module")
def model() -> StackModel:
    return load_stack_model(TEMPLATE_PATH, "local")


def test_the_model_has_all_seven_functions_with_their_shims(model: StackModel) -> None:
    assert set(model.functions) == set(FUNCTIONS)
    for logical_id, spec in model.functions.items():
        directory, _ = FUNCTIONS[logical_id]
        assert spec.name == f"alchemiser-local-{FUNCTION_NAMES[logical_id]}"
        assert spec.handler == "lambda_handler.lambda_handler"
        assert spec.code_uri == f"functions/{directory}/"
        assert (REPO / spec.code_uri / "lambda_handler.py").is_file()


def test_the_model_routes_every_published_event_to_its_targets(model: StackModel) -> None:
    bus = model.physical_names["AlchemiserEventBus"]
    for event in sample_events():
        envelope = envelope_of(event)
        routed = {
            target
            for route in model.routes
            if route.bus == bus and matches(route.pattern, envelope)
            for target in route.target_ids
        }
        assert routed == EXPECTED_TARGETS[event.event_type], event.event_type


def test_the_model_reads_the_queue_consumers(model: StackModel) -> None:
    sources = {(s.queue, s.function, s.batch_size, s.report_batch_item_failures) for s in model.queue_sources}
    assert sources == {
        ("ExecutionQueue", "ExecutionFunction", 1, True),
        ("SessionDeadlineQueue", "StrategyAggregatorFunction", 1, True),
    }


def test_the_first_schedule_is_the_orchestrators(model: StackModel) -> None:
    """LocalRouter.trigger_schedule() without a name fires the first schedule: it must be the trading day's."""
    first = model.schedules[0]
    assert first.function == "StrategyOrchestratorFunction"
    assert first.timezone == "America/New_York"
    assert first.expression == "cron(30 12,15 ? * MON-FRI *)"


def test_function_environments_resolve_to_local_physical_names(model: StackModel) -> None:
    orchestrator = model.functions["StrategyOrchestratorFunction"].environment
    assert orchestrator["STRATEGY_WORKER_FUNCTION_NAME"] == "alchemiser-local-strategy-worker"
    assert orchestrator["SESSION_DEADLINE_QUEUE_URL"] == model.queue_url("SessionDeadlineQueue")
    assert orchestrator["AGGREGATION_SESSIONS_TABLE_NAME"] == "alchemiser-local-aggregation-sessions"
    notifications = model.functions["NotificationsFunction"].environment
    assert notifications["SNS_NOTIFICATION_TOPIC_ARN"] == model.arn("TradingNotificationsTopic")
    for spec in model.functions.values():
        assert "${" not in "".join(spec.environment.values()), spec.logical_id


def test_the_local_stack_provisions_the_templates_resources(model: StackModel) -> None:
    import boto3
    from moto import mock_aws

    from the_alchemiser.local.stack.provision import provision

    with mock_aws():
        clients = {s: boto3.client(s, region_name="us-east-1") for s in ("dynamodb", "sqs", "s3", "sns", "events")}
        provision(model, clients)
        tables = set(clients["dynamodb"].list_tables()["TableNames"])
        queues = {url.rsplit("/", 1)[1] for url in clients["sqs"].list_queues()["QueueUrls"]}
        execution = clients["sqs"].get_queue_attributes(
            QueueUrl=model.queue_url("ExecutionQueue"), AttributeNames=["RedrivePolicy", "VisibilityTimeout"]
        )["Attributes"]
    assert {model.physical_names[t] for t in model.of_type("AWS::DynamoDB::Table")} == tables
    assert {model.physical_names[q] for q in model.of_type("AWS::SQS::Queue")} == queues
    assert int(json.loads(execution["RedrivePolicy"])["maxReceiveCount"]) == 3
    assert int(execution["VisibilityTimeout"]) == 900
