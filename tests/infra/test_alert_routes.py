"""Issue 14 finding 5: the deploy cannot produce a stack whose alerts reach nobody.

Both topics were subscribed only through optional, empty-default email parameters that the prod config
did not pass. Now the parameters are required (no default, an email pattern), the subscriptions are
unconditional, and scripts/deploy.py refuses to deploy without ALERT_EMAIL (NOTIFICATION_EMAIL defaults
to it), passing both with the stage's own overrides."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType
from typing import Any

import pytest

from tests.infra.wiring import REPO, TEMPLATE_PATH
from the_alchemiser.local.template import load_template

EMAIL_PARAMETERS = {"AlertEmail": "DLQAlertEmail", "NotificationEmail": "TradingNotificationsEmail"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture
def deploy(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_script_alerts", REPO / "scripts" / "deploy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for variable in ("DRY_RUN", "BRANCH", "SHA", "TTL_HOURS", "STACK", "CONFIRM", "ALERT_EMAIL", "NOTIFICATION_EMAIL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SAM", "sam")
    monkeypatch.setattr(module.subprocess, "run", lambda *a, **k: pytest.fail(f"ran {a} without the alert email"))
    monkeypatch.setattr(module, "git_tags", lambda pattern: [])
    monkeypatch.setattr(module, "project_version", lambda: "2.0.0")
    monkeypatch.setattr(module, "has_origin", lambda: False)
    monkeypatch.setattr(module, "read", lambda command: "feature/x" if "--abbrev-ref" in command else "abcdef1")
    return module


@pytest.mark.parametrize("parameter", sorted(EMAIL_PARAMETERS))
def test_the_email_parameters_are_required_and_must_be_an_email(template: dict[str, Any], parameter: str) -> None:
    definition = template["Parameters"][parameter]
    assert "Default" not in definition, f"{parameter} must have no default: a stack without it alerts nobody"
    pattern = re.compile(definition["AllowedPattern"])
    assert pattern.fullmatch("ops@example.com") and pattern.fullmatch("first.last+alchemiser@mail.example.co.uk")
    for bad in ("", " ", "nobody", "a@b", "ops@example.com, other@example.com"):
        assert not pattern.fullmatch(bad), bad
    assert definition.get("ConstraintDescription")


@pytest.mark.parametrize(("parameter", "subscription"), sorted(EMAIL_PARAMETERS.items()))
def test_each_topic_is_always_subscribed(template: dict[str, Any], parameter: str, subscription: str) -> None:
    resource = template["Resources"][subscription]
    assert "Condition" not in resource
    assert resource["Properties"]["Protocol"] == "email"
    assert resource["Properties"]["Endpoint"] == {"Ref": parameter}


def test_every_alarm_notifies_the_alert_topic(template: dict[str, Any]) -> None:
    alarms = {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms
    for lid, alarm in alarms.items():
        assert {"Ref": "DLQAlertTopic"} in alarm["Properties"]["AlarmActions"], lid


@pytest.mark.parametrize("command", ["deploy-dev", "deploy-prod", "deploy-ephemeral"])
def test_the_deploy_refuses_without_an_alert_email(
    deploy: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.setenv("DRY_RUN", "1")
    monkeypatch.setenv("CONFIRM", "v2.0.0")
    assert deploy.main(["deploy.py", command]) == 1
    assert "ALERT_EMAIL" in capsys.readouterr().err
    monkeypatch.setenv("ALERT_EMAIL", "not an email")
    assert deploy.main(["deploy.py", command]) == 1
    assert "ALERT_EMAIL" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["deploy-dev", "deploy-prod", "deploy-ephemeral"])
def test_the_deploy_passes_both_emails_with_the_stages_own_overrides(
    deploy: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.setenv("DRY_RUN", "1")
    monkeypatch.setenv("CONFIRM", "v2.0.0")
    monkeypatch.setenv("ALERT_EMAIL", "ops@example.com")
    assert deploy.main(["deploy.py", command]) == 0
    out = capsys.readouterr().out
    deploy_line = next(line for line in out.splitlines() if line.startswith("[dry-run] sam deploy"))
    assert "AlertEmail=ops@example.com" in deploy_line
    assert "NotificationEmail=ops@example.com" in deploy_line  # defaults to the alert address
    # --parameter-overrides replaces samconfig's: the stage's own values are passed with the emails
    stage = command.removeprefix("deploy-")
    assert f"Stage={stage}" in deploy_line and "PaperTrading=" in deploy_line
    if stage == "prod":
        assert "PaperTrading=false" in deploy_line and "LogRetentionDays=365" in deploy_line
    monkeypatch.setenv("NOTIFICATION_EMAIL", "reports@example.com")
    assert deploy.main(["deploy.py", command]) == 0
    deploy_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("[dry-run] sam deploy"))
    assert "NotificationEmail=reports@example.com" in deploy_line and "AlertEmail=ops@example.com" in deploy_line


def test_the_readme_says_the_alert_email_is_required() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "ALERT_EMAIL" in readme and "AlertEmail" in readme


# ---- finding 6: a trading day with no workflow alarms (the start check and its alarm)
def test_the_start_check_runs_fifteen_minutes_after_both_run_times(template: dict[str, Any]) -> None:
    import json

    events = template["Resources"]["StrategyOrchestratorFunction"]["Properties"]["Events"]
    check = events["WorkflowStartCheck"]
    assert check["Type"] == "ScheduleV2"
    props = check["Properties"]
    assert props["ScheduleExpression"] == "cron(45 12,15 ? * MON-FRI *)"  # 12:30 / 15:30 run + 15 minutes
    assert props["ScheduleExpressionTimezone"] == "America/New_York"
    assert json.loads(props["Input"])["check"] == "workflow-started"
    assert props.get("State", "ENABLED") == "ENABLED"
    assert next(iter(events)) == "DailyBeforeClose"  # the local stack fires the first schedule as the day's run


def test_the_workflow_not_started_alarm_reads_the_checks_metric(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["WorkflowNotStartedAlarm"]["Properties"]
    env = template["Resources"]["StrategyOrchestratorFunction"]["Properties"]["Environment"]["Variables"]
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["MetricName"] == "WorkflowNotStarted"
    assert alarm.get("Dimensions", []) == []  # the check puts the metric without dimensions
    assert alarm["Statistic"] == "Maximum" and alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 900
    assert alarm["TreatMissingData"] == "notBreaching"  # holidays put nothing; a failing check alarms on Errors
    assert alarm["AlarmActions"] == [{"Ref": "DLQAlertTopic"}]


# ---- Powertools Metrics: each emitting function writes to the stack's namespace; failed orders alarm
def test_the_emitting_functions_share_the_stacks_metrics_namespace(template: dict[str, Any]) -> None:
    namespaces = {
        function: template["Resources"][function]["Properties"]["Environment"]["Variables"].get(
            "POWERTOOLS_METRICS_NAMESPACE"
        )
        for function in (
            "StrategyOrchestratorFunction",
            "StrategyAggregatorFunction",
            "ExecutionFunction",
            "NotificationsFunction",
        )
    }
    assert set(map(str, namespaces.values())) == {str({"Fn::Sub": "alchemiser-${Stage}${InstanceSuffix}"})}, namespaces


def test_failed_orders_alarm_on_the_executions_metric(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["FailedOrdersAlarm"]["Properties"]
    env = template["Resources"]["ExecutionFunction"]["Properties"]["Environment"]["Variables"]
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["MetricName"] == "OrdersFailed" and alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 300
    assert alarm["AlarmActions"] == [{"Ref": "DLQAlertTopic"}]


def test_a_rejected_message_alarms_within_minutes(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["MessagesRejectedAlarm"]["Properties"]
    assert alarm["Namespace"] == {"Fn::Sub": "alchemiser-${Stage}${InstanceSuffix}"}
    assert alarm["MetricName"] == "MessagesRejected" and alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 300
    assert alarm["AlarmActions"] == [{"Ref": "DLQAlertTopic"}]
    for lid, resource in template["Resources"].items():  # every handler can put it
        if resource["Type"] == "AWS::Serverless::Function":
            variables = resource["Properties"]["Environment"]["Variables"]
            assert variables.get("POWERTOOLS_METRICS_NAMESPACE") == alarm["Namespace"], lid
