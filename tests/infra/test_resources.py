"""template.yaml has the seed's resources under their logical ids, configured as infra.md decides."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.infra.wiring import (
    FUNCTION_NAMES,
    FUNCTIONS,
    REPO,
    TEMPLATE_PATH,
    as_list,
    event_source_mappings,
    referenced_id,
)
from the_alchemiser.local.template import load_template

SEED_RESOURCES = {
    "StrategyOrchestratorFunction": "AWS::Serverless::Function",
    "StrategyFunction": "AWS::Serverless::Function",
    "StrategyAggregatorFunction": "AWS::Serverless::Function",
    "PortfolioFunction": "AWS::Serverless::Function",
    "ExecutionFunction": "AWS::Serverless::Function",
    "NotificationsFunction": "AWS::Serverless::Function",
    "AlchemiserEventBus": "AWS::Events::EventBus",
    "AggregationSessionsTable": "AWS::DynamoDB::Table",
    "ExecutionQueue": "AWS::SQS::Queue",
    "ExecutionDLQ": "AWS::SQS::Queue",
    "TradingNotificationsTopic": "AWS::SNS::Topic",
    "DLQAlertTopic": "AWS::SNS::Topic",
    "TradeLedgerTable": "AWS::DynamoDB::Table",
    "PerformanceReportsBucket": "AWS::S3::Bucket",
    # infra.md: the shared layer and what else the system needs
    "SharedCodeLayer": "AWS::Serverless::LayerVersion",
    "MarketDataBucket": "AWS::S3::Bucket",
    "IdempotencyTable": "AWS::DynamoDB::Table",
    "DataRefreshFunction": "AWS::Serverless::Function",
    "SessionDeadlineQueue": "AWS::SQS::Queue",
    "EventPayloadsBucket": "AWS::S3::Bucket",
}
NEW_YORK = "America/New_York"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def _function_property(template: dict[str, Any], function: str, name: str) -> Any:
    props = template["Resources"][function]["Properties"]
    return props.get(name, template["Globals"]["Function"].get(name))


def test_the_seed_resources_are_there_under_their_logical_ids(template: dict[str, Any]) -> None:
    kinds = {lid: r["Type"] for lid, r in template["Resources"].items()}
    assert {lid: kinds.get(lid) for lid in SEED_RESOURCES} == SEED_RESOURCES


def test_stage_parameter_and_function_names(template: dict[str, Any]) -> None:
    assert template["Parameters"]["Stage"]["AllowedValues"] == ["dev", "prod", "ephemeral"]
    for function, short_name in FUNCTION_NAMES.items():
        assert _function_property(template, function, "FunctionName") == {
            "Fn::Sub": f"alchemiser-${{Stage}}${{InstanceSuffix}}-{short_name}"
        }


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_is_a_makefile_built_deploy_unit_of_its_module(template: dict[str, Any], function: str) -> None:
    directory, module = FUNCTIONS[function]
    resource = template["Resources"][function]
    assert _function_property(template, function, "Runtime") == "python3.12"
    assert _function_property(template, function, "Handler") == "lambda_handler.lambda_handler"
    assert resource["Properties"]["CodeUri"] == f"functions/{directory}/"
    assert resource["Metadata"] == {"BuildMethod": "makefile", "WorkingDirectory": "."}
    shim = (REPO / "functions" / directory / "lambda_handler.py").read_text(encoding="utf-8")
    assert f"from the_alchemiser.{module}.lambda_handler import lambda_handler" in shim
    makefile = (REPO / "functions" / directory / "Makefile").read_text(encoding="utf-8")
    assert f"build-{function}:" in makefile
    assert f"scripts/package_function.sh functions/{directory} " in makefile
    assert _function_property(template, function, "Layers") == [{"Ref": "SharedCodeLayer"}]


def test_the_layer_is_built_from_the_lock_for_python312(template: dict[str, Any]) -> None:
    layer = template["Resources"]["SharedCodeLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/shared/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (REPO / "layers" / "shared" / "Makefile").read_text(encoding="utf-8")
    assert "build-SharedCodeLayer:" in makefile and "scripts/build_layer.sh" in makefile
    script = (REPO / "scripts" / "build_layer.sh").read_text(encoding="utf-8")
    assert 'PYTHON_VERSION="${LAYER_PYTHON_VERSION:-3.12}"' in script
    flags = (
        '--python-version "$PYTHON_VERSION"',
        "--only-binary=:all:",
        "--require-hashes",
        '"manylinux2014_$MACHINE"',
    )
    for flag in flags:
        assert flag in script
    assert 'case "${LAYER_ARCH:-x86_64}" in' in script and "x86_64) MACHINE=x86_64 ;;" in script


def test_execution_queue_redrive_and_visibility(template: dict[str, Any]) -> None:
    queue = template["Resources"]["ExecutionQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ExecutionDLQ", "Arn"]},
        "maxReceiveCount": 3,
    }
    assert queue["VisibilityTimeout"] >= 6 * _function_property(template, "ExecutionFunction", "Timeout")


def test_executions_run_at_most_two_at_once(template: dict[str, Any]) -> None:
    """Issue 14, finding 1: a guard behind the plan lease (2 is the least MaximumConcurrency AWS allows)."""
    mapping = template["Resources"]["ExecutionQueueMapping"]["Properties"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}


def test_every_consumed_queue_outlasts_its_consumer_six_times(template: dict[str, Any]) -> None:
    mappings = event_source_mappings(template)
    assert mappings
    for mapping in mappings:
        queue = template["Resources"][str(referenced_id(mapping["EventSourceArn"]))]["Properties"]
        timeout = _function_property(template, str(referenced_id(mapping["FunctionName"])), "Timeout")
        assert queue["VisibilityTimeout"] >= 6 * timeout, mapping
        assert queue["RedrivePolicy"]["maxReceiveCount"] == 3


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lid: r["Properties"] for lid, r in _of_type(template, "AWS::CloudWatch::Alarm").items()}


def test_every_dead_letter_queue_has_a_depth_alarm_to_the_alert_topic(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    dead_letter_queues = {
        referenced_id(r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for r in _of_type(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in r["Properties"]
    }
    dead_letter_queues |= {
        referenced_id(resources[f]["Properties"]["DeadLetterQueue"]["TargetArn"])
        for f in FUNCTIONS
        if "DeadLetterQueue" in resources[f]["Properties"]
    }
    assert "ExecutionDLQ" in dead_letter_queues
    watched = {
        referenced_id(alarm["Dimensions"][0]["Value"])
        for alarm in _alarms(template).values()
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and alarm["AlarmActions"] == [{"Ref": "DLQAlertTopic"}]
        and alarm["Threshold"] == 0
        and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    }
    assert dead_letter_queues <= watched


def test_every_function_has_an_errors_alarm_to_the_alert_topic(template: dict[str, Any]) -> None:
    watched = {
        referenced_id(alarm["Dimensions"][0]["Value"])
        for alarm in _alarms(template).values()
        if alarm.get("Namespace") == "AWS/Lambda"
        and alarm.get("MetricName") == "Errors"
        and alarm["AlarmActions"] == [{"Ref": "DLQAlertTopic"}]
    }
    assert watched == set(FUNCTIONS)


def test_a_workflow_not_completed_by_the_close_raises_an_alarm(template: dict[str, Any]) -> None:
    alarm = _alarms(template)["WorkflowNotCompletedByCloseAlarm"]
    assert alarm["AlarmActions"] == [{"Ref": "DLQAlertTopic"}]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    rules = {
        m["MetricStat"]["Metric"]["Dimensions"][1]["Value"]["Ref"]
        for m in metrics.values()
        if "MetricStat" in m and m["MetricStat"]["Metric"]["Namespace"] == "AWS/Events"
    }
    assert rules == {"WorkflowStartedRule", "WorkflowCompletedRule"}
    check = template["Resources"]["CloseCheckSchedule"]["Properties"]
    assert check["ScheduleExpressionTimezone"] == NEW_YORK
    # one minute before the early (13:00) and regular (16:00) close
    assert check["ScheduleExpression"] == "cron(59 12,15 ? * MON-FRI *)"
    assert referenced_id(check["Target"]["Arn"]) == "CloseCheckQueue"


def test_schedules_run_in_new_york_time(template: dict[str, Any]) -> None:
    orchestrator = template["Resources"]["StrategyOrchestratorFunction"]["Properties"]["Events"]
    daily, start_check = orchestrator.values()  # the run, then the start check (test_alert_routes.py)
    assert daily["Type"] == start_check["Type"] == "ScheduleV2"
    assert daily["Properties"]["ScheduleExpression"] == "cron(30 12,15 ? * MON-FRI *)"
    schedules = [
        event["Properties"]
        for function in FUNCTIONS
        for event in template["Resources"][function]["Properties"].get("Events", {}).values()
        if event["Type"] in ("Schedule", "ScheduleV2")
    ] + [r["Properties"] for r in _of_type(template, "AWS::Scheduler::Schedule").values()]
    assert len(schedules) == 4
    for schedule in schedules:
        assert schedule["ScheduleExpressionTimezone"] == NEW_YORK, schedule


def test_encryption_at_rest_and_no_public_buckets(template: dict[str, Any]) -> None:
    for lid, table in _of_type(template, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}, lid
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST", lid
    for lid, queue in _of_type(template, "AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, lid
    for lid, topic in _of_type(template, "AWS::SNS::Topic").items():
        assert "KmsMasterKeyId" in topic["Properties"], lid
    for lid, bucket in _of_type(template, "AWS::S3::Bucket").items():
        props = bucket["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), lid
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, lid


def test_the_alert_topic_key_lets_cloudwatch_publish(template: dict[str, Any]) -> None:
    key = template["Resources"]["AlertTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in as_list(key["KeyPolicy"]["Statement"])]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    assert template["Resources"]["DLQAlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}


def test_ledger_table_keys_and_indexes_match_the_decisions(template: dict[str, Any]) -> None:
    ledger = template["Resources"]["TradeLedgerTable"]["Properties"]
    assert ledger["KeySchema"] == [{"AttributeName": "client_order_id", "KeyType": "HASH"}]
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in ledger["GlobalSecondaryIndexes"]}
    assert indexes == {
        "by-correlation": ["correlation_id", "client_order_id"],
        "by-symbol": ["symbol", "placed_at"],
        "by-strategy": ["strategy", "strategy_placed_at"],
    }
    sessions = template["Resources"]["AggregationSessionsTable"]["Properties"]
    assert [k["AttributeName"] for k in sessions["KeySchema"]] == ["pk", "sk"]
    idempotency = template["Resources"]["IdempotencyTable"]["Properties"]
    assert idempotency["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert idempotency["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_the_execution_handler_counts_deliveries_like_the_redrive_policy(template: dict[str, Any]) -> None:
    """The ExecutionQueue's maxReceiveCount (read from the template) is what the execution handler counts
    deliveries against."""
    from the_alchemiser.execution_v2.lambda_handler import MAX_RECEIVE_COUNT

    queue = template["Resources"]["ExecutionQueue"]["Properties"]
    assert MAX_RECEIVE_COUNT == queue["RedrivePolicy"]["maxReceiveCount"]


def test_a_forced_run_waits_as_long_as_execution_may_work_a_plan(template: dict[str, Any]) -> None:
    """The orchestrator's quiet period after a COMPLETED workflow covers every delivery of its plan."""
    from the_alchemiser.coordinator_v2.service import OrchestratorConfig

    queue = template["Resources"]["ExecutionQueue"]["Properties"]
    window = queue["RedrivePolicy"]["maxReceiveCount"] * queue["VisibilityTimeout"]
    quiet = OrchestratorConfig(stage="dev", strategies_dir=REPO).forced_run_quiet_period
    assert quiet.total_seconds() == window


def test_no_build_output_is_tracked() -> None:
    assert ".aws-sam/" in (REPO / ".gitignore").read_text(encoding="utf-8").split()
    tracked = subprocess.run(["git", "ls-files", ".aws-sam"], cwd=REPO, capture_output=True, text=True, check=True)
    assert tracked.stdout == ""


@pytest.mark.slow
def test_cfn_lint_passes_on_the_real_template() -> None:
    """`make validate` runs cfn-lint and `sam validate --lint`; the first needs nothing but the dev venv."""
    from cfnlint.api import lint_file

    assert [str(match) for match in lint_file(TEMPLATE_PATH)] == []
