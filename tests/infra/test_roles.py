"""Least privilege: one role per function, naming exactly the resources that function uses."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.infra.wiring import (
    FUNCTIONS,
    TEMPLATE_PATH,
    as_list,
    event_source_mappings,
    function_environment,
    referenced_id,
)
from the_alchemiser.local.template import load_template

SECRET_ARN = re.compile(
    r"^arn:\$\{AWS::Partition\}:secretsmanager:\$\{AWS::Region\}:\$\{AWS::AccountId\}:secret:"
    r"(\$\{AlpacaCredentialsSecretName\}|alchemiser/\$\{Stage\}/alpaca)-\?{6}$"
)
# "<resource ARN>/<sub-resource>": objects of one bucket, indexes of one table
SUB_RESOURCE = re.compile(r"^\$\{(\w+)\.Arn\}/(\*|index/\*)$")
BROKER_SECRET = "AlpacaCredentialsSecret"  # stands for the secret's ARN below


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def statement_resources(statement: dict[str, Any]) -> list[Any]:
    """The statement's resources, `!If` alternatives flattened."""
    resources: list[Any] = []
    for resource in as_list(statement.get("Resource")):
        if isinstance(resource, dict) and "Fn::If" in resource:
            resources += resource["Fn::If"][1:]
        else:
            resources.append(resource)
    return resources


def resource_target(resource: Any, template: dict[str, Any]) -> str | None:
    """The logical id (or BROKER_SECRET) a role's resource names; None when it names nothing specific."""
    if isinstance(resource, dict) and ("Ref" in resource or "Fn::GetAtt" in resource):
        target = referenced_id(resource)
        return target if target in template["Resources"] else None
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        if SECRET_ARN.fullmatch(text):
            return BROKER_SECRET
        match = SUB_RESOURCE.fullmatch(text)
        if match and match.group(1) in template["Resources"]:
            return match.group(1)
    return None


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    props = template["Resources"][role]["Properties"]
    return [s for policy in props.get("Policies", []) for s in as_list(policy["PolicyDocument"]["Statement"])]


def policy_errors(template: dict[str, Any]) -> list[str]:
    """Every role statement allows named actions on named resources (no `*`, no managed policies)."""
    errors: list[str] = []
    for role, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        if resource["Properties"].get("ManagedPolicyArns"):
            errors.append(f"{role}: managed policies grant more than the role needs")
        for statement in role_statements(template, role):
            sid = statement.get("Sid", "?")
            if statement.get("Effect") != "Allow" or "NotAction" in statement or "NotResource" in statement:
                errors.append(f"{role}.{sid}: only plain Allow statements")
            for action in as_list(statement.get("Action")):
                if "*" in action:
                    errors.append(f"{role}.{sid}: wildcard action {action}")
            for item in statement_resources(statement):
                if resource_target(item, template) is None:
                    errors.append(f"{role}.{sid}: resource {item!r} does not name one resource of the stack")
    return errors


def function_grants(template: dict[str, Any], function: str) -> dict[str, set[str]]:
    """Resource (logical id) -> actions the function's role allows on it."""
    role = referenced_id(template["Resources"][function]["Properties"]["Role"])
    assert role is not None
    grants: dict[str, set[str]] = {}
    for statement in role_statements(template, role):
        for item in statement_resources(statement):
            target = resource_target(item, template)
            if target is not None:
                grants.setdefault(target, set()).update(as_list(statement["Action"]))
    return grants


def grant_errors(template: dict[str, Any]) -> list[str]:
    """Each function's role reaches exactly what its environment names, its logs, its DLQ and its queues."""
    errors: list[str] = []
    resources = template["Resources"]
    roles_seen: dict[str, str] = {}
    for function in FUNCTIONS:
        props = resources[function]["Properties"]
        role = referenced_id(props.get("Role"))
        if role is None or resources.get(role, {}).get("Type") != "AWS::IAM::Role":
            errors.append(f"{function}: no role of its own in the template (SAM would attach a broad default)")
            continue
        if role in roles_seen:
            errors.append(f"{function} shares {role} with {roles_seen[role]}")
        roles_seen[role] = function
        if props.get("Policies"):
            errors.append(f"{function}: SAM Policies next to an explicit Role")
        environment = function_environment(template, function)
        needed = {referenced_id(value) for value in environment.values()} & resources.keys()
        needed -= {p for p in needed if resources[p]["Type"] == "AWS::Serverless::LayerVersion"}
        if "ALPACA_CREDENTIALS_SECRET" in environment:
            needed.add(BROKER_SECRET)
        needed.add(str(referenced_id(props["LoggingConfig"]["LogGroup"])))
        if "DeadLetterQueue" in props:
            needed.add(str(referenced_id(props["DeadLetterQueue"]["TargetArn"])))
        for mapping in event_source_mappings(template):
            if referenced_id(mapping["FunctionName"]) == function:
                needed.add(str(referenced_id(mapping["EventSourceArn"])))
        granted = function_grants(template, function)
        for missing in sorted(needed - granted.keys()):
            errors.append(f"{function}: uses {missing} but its role {role} grants nothing on it")
        for extra in sorted(granted.keys() - needed):
            actions = sorted(granted[extra])
            errors.append(f"{function}: its role {role} grants {actions} on {extra}, which it never uses")
        log_group = str(referenced_id(props["LoggingConfig"]["LogGroup"]))
        if granted.get(log_group) != {"logs:CreateLogStream", "logs:PutLogEvents"}:
            errors.append(f"{function}: its own log group needs exactly CreateLogStream and PutLogEvents")
    return errors


def test_role_statements_name_specific_resources(template: dict[str, Any]) -> None:
    assert policy_errors(template) == []


def test_each_function_reaches_exactly_what_it_uses(template: dict[str, Any]) -> None:
    assert grant_errors(template) == []


def test_wildcards_only_where_aws_requires_them(template: dict[str, Any]) -> None:
    """A bare `*` resource appears only in the KMS key policy, where it means "this key"."""
    for logical_id, resource in template["Resources"].items():
        for document in _policy_documents(resource):
            for statement in as_list(document["Statement"]):
                if "*" in as_list(statement.get("Resource")):
                    assert resource["Type"] == "AWS::KMS::Key", logical_id


def _policy_documents(resource: dict[str, Any]) -> list[dict[str, Any]]:
    props = resource.get("Properties", {})
    documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
    for key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
        if key in props:
            documents.append(props[key])
    return documents


def test_a_wildcard_resource_is_caught(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    statements = broken["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements.append({"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": "*"})
    assert any("does not name one resource" in error for error in policy_errors(broken))


def test_a_wildcard_action_is_caught(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    statements = broken["Resources"]["PortfolioRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[0]["Action"] = "logs:*"
    assert any("wildcard action" in error for error in policy_errors(broken))


def test_a_grant_on_an_unused_resource_is_caught(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    statements = broken["Resources"]["NotificationsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    queue_arn = {"Fn::GetAtt": ["ExecutionQueue", "Arn"]}
    statements.append({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn})
    assert any("ExecutionQueue, which it never uses" in error for error in grant_errors(broken))


def test_a_missing_grant_is_caught(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    statements = broken["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "BrokerCredentials"]
    assert any("uses AlpacaCredentialsSecret" in error for error in grant_errors(broken))


def test_broker_credentials_come_from_the_named_secret_only(template: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        grants = function_grants(template, function)
        environment = function_environment(template, function)
        if "ALPACA_CREDENTIALS_SECRET" in environment:
            assert grants[BROKER_SECRET] == {"secretsmanager:GetSecretValue"}, function
        else:
            assert BROKER_SECRET not in grants, function


def test_the_sessions_table_has_two_writers_the_opener_and_the_aggregator(template: dict[str, Any]) -> None:
    """docs/decisions.md, "Who writes the session table": the orchestrator opens a session (lock + session in
    one transaction, and the failure of its own fan-out), the aggregator decides it; the worker writes nothing."""
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    writers = {f for f in FUNCTIONS if function_grants(template, f).get("AggregationSessionsTable", set()) & writes}
    assert writers == {"StrategyOrchestratorFunction", "StrategyAggregatorFunction"}
    assert "AGGREGATION_SESSIONS_TABLE_NAME" not in function_environment(template, "StrategyFunction")
