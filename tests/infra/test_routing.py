"""template.yaml routes every event the code publishes where docs/decisions.md says, and only there."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.infra.wiring import (
    EXPECTED_TARGETS,
    TEMPLATE_PATH,
    published_envelope,
    routed_targets,
    routing_errors,
    rules,
    sample_events,
)
from the_alchemiser.local.stack.patterns import matches
from the_alchemiser.local.template import load_template


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(TEMPLATE_PATH)


def test_the_template_routes_every_published_event_as_decided(template: dict) -> None:
    assert routing_errors(template) == []


def test_every_seed_event_type_is_covered() -> None:
    published = {event.event_type for event in sample_events()}
    assert published == set(EXPECTED_TARGETS)


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: f"{e.event_type}-{e.source_module}")
def test_each_event_reaches_exactly_its_targets(template: dict, event) -> None:
    envelope = published_envelope(event)
    assert envelope["source"] == f"alchemiser.{event.source_module}"
    assert envelope["detail-type"] == event.event_type
    assert routed_targets(template, envelope) == EXPECTED_TARGETS[event.event_type]


def test_rules_require_an_alchemiser_source(template: dict) -> None:
    """An event with the right detail-type from someone else's source is not routed."""
    for event in sample_events():
        envelope = published_envelope(event) | {"source": "evil.producer"}
        assert routed_targets(template, envelope) == set(), event.event_type


def test_every_rule_names_one_detail_type_and_the_source_prefix(template: dict) -> None:
    for rule_id, rule in rules(template).items():
        pattern = rule["Properties"]["EventPattern"]
        assert pattern["source"] == [{"prefix": "alchemiser."}], rule_id
        assert len(pattern["detail-type"]) == 1 and pattern["detail-type"][0] in EXPECTED_TARGETS, rule_id


@pytest.mark.parametrize(
    ("rule", "broken_pattern"),
    [
        ("SignalGeneratedRule", {"source": [{"prefix": "alchemiser."}], "detail-type": ["SignalGenerate"]}),
        ("RebalancePlannedRule", {"source": [{"prefix": "alchemist."}], "detail-type": ["RebalancePlanned"]}),
        ("PartialSignalGeneratedRule", {"source": ["alchemiser"], "detail-type": ["PartialSignalGenerated"]}),
        ("WorkflowFailedRule", {"source": [{"prefix": "alchemiser."}], "detail-type": ["WorkflowCompleted"]}),
    ],
)
def test_a_wrong_pattern_in_a_copy_of_the_template_is_caught(template: dict, rule: str, broken_pattern: dict) -> None:
    broken = copy.deepcopy(template)
    broken["Resources"][rule]["Properties"]["EventPattern"] = broken_pattern
    assert routing_errors(broken), f"{rule} with {broken_pattern} went unnoticed"


def test_a_wrong_pattern_in_a_copy_of_the_file_is_caught(tmp_path: Path) -> None:
    """The same check over an edited copy of the YAML file, read by the same loader."""
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    assert text.count("detail-type: [TradeExecuted]") == 1
    copy_path = tmp_path / "template.yaml"
    copy_path.write_text(text.replace("detail-type: [TradeExecuted]", "detail-type: [TradeExecute]"))
    errors = routing_errors(load_template(copy_path))
    assert any(error.startswith("TradeExecuted") for error in errors), errors


def test_a_wrong_target_is_caught(template: dict) -> None:
    broken = copy.deepcopy(template)
    broken["Resources"]["RebalancePlannedRule"]["Properties"]["Targets"][0]["Arn"] = {
        "Fn::GetAtt": ["ExecutionFunction", "Arn"]
    }
    errors = routing_errors(broken)
    assert any("RebalancePlanned" in error for error in errors), errors


def test_a_missing_permission_or_queue_policy_is_caught(template: dict) -> None:
    broken = copy.deepcopy(template)
    del broken["Resources"]["SignalGeneratedPermission"]
    del broken["Resources"]["ExecutionQueuePolicy"]
    errors = routing_errors(broken)
    assert any("AWS::Lambda::Permission" in error for error in errors), errors
    assert any("queue policy" in error for error in errors), errors


def test_execution_consumes_its_queue_one_plan_at_a_time(template: dict) -> None:
    broken = copy.deepcopy(template)
    broken["Resources"]["ExecutionQueueMapping"]["Properties"]["BatchSize"] = 10
    assert any("BatchSize" in error for error in routing_errors(broken))


def test_the_archive_keeps_every_alchemiser_event(template: dict) -> None:
    archive = template["Resources"]["AlchemiserEventArchive"]["Properties"]
    for event in sample_events():
        assert matches(archive["EventPattern"], published_envelope(event)), event.event_type


def test_a_rule_without_its_dead_letter_queue_is_caught(template: dict) -> None:
    broken = copy.deepcopy(template)
    del broken["Resources"]["TradeExecutedRule"]["Properties"]["Targets"][0]["DeadLetterConfig"]
    statement = broken["Resources"]["AsyncInvokeDLQPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    statement["Condition"]["ArnEquals"]["aws:SourceArn"].remove({"Fn::GetAtt": ["SignalGeneratedRule", "Arn"]})
    errors = routing_errors(broken)
    assert any(e.startswith("TradeExecutedRule: target NotificationsFunction has no dead-letter") for e in errors)
    assert any(e.startswith("SignalGeneratedRule: no queue policy lets the rule park") for e in errors)
