"""EventBridge targets in the local router (issue #17): a target's Input, InputPath and InputTransformer shape
what it receives, as EventBridge does; forms the router does not support are refused when the template is
read, never ignored. And rules match with EventBridge's pattern language (moto's matcher)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.local.router_probe import PROBE
from tests.support.local.router_stack import BUS, function, queue, rule, stack, target
from the_alchemiser.local.stack.intrinsics import TemplateError

PATTERN = {"detail-type": ["Done"]}


def only_event(name: str) -> Any:
    (call,) = PROBE.of(name)
    return call.event


def test_input_replaces_the_event_with_its_constant(tmp_path: Path) -> None:
    resources = {**BUS, "Fn": function(), "R": rule(PATTERN, target("Fn", Input='{"constant": true}'))}
    with stack(tmp_path, resources) as s:
        s.publish("Done", {"n": 1})
        s.router.run_until_idle()
        assert only_event("Fn") == {"constant": True}


def test_input_path_sends_that_part_of_the_event(tmp_path: Path) -> None:
    resources = {**BUS, "Fn": function(), "R": rule(PATTERN, target("Fn", InputPath="$.detail.order"))}
    with stack(tmp_path, resources) as s:
        s.publish("Done", {"order": {"id": "o-1", "qty": 3}})
        s.router.run_until_idle()
        assert only_event("Fn") == {"id": "o-1", "qty": 3}


def test_input_transformer_fills_a_json_template(tmp_path: Path) -> None:
    transformer = {
        "InputPathsMap": {"id": "$.detail.order.id", "qty": "$.detail.order.qty", "kind": "$.detail-type"},
        "InputTemplate": '{"order": <id>, "quantity": <qty>, "what": "a <kind> event", "rule": <aws.events.rule-name>}',
    }
    resources = {**BUS, "Fn": function(), "R": rule(PATTERN, target("Fn", InputTransformer=transformer))}
    with stack(tmp_path, resources) as s:
        s.publish("Done", {"order": {"id": "o-1", "qty": 3}})
        s.router.run_until_idle()
        assert only_event("Fn") == {"order": "o-1", "quantity": 3, "what": "a Done event", "rule": "R"}


def test_input_transformer_text_template_into_a_queue(tmp_path: Path) -> None:
    transformer = {"InputPathsMap": {"id": "$.detail.id"}, "InputTemplate": '"order <id> is done"'}
    resources = {**BUS, "Q": queue(), "R": rule(PATTERN, target("Q", InputTransformer=transformer))}
    with stack(tmp_path, resources) as s:
        s.publish("Done", {"id": "o-2"})
        s.router.run_until_idle()
        assert [m["Body"] for m in s.messages("Q")] == ['"order o-2 is done"']


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"InputPath": "$.detail[*].id"}, "InputPath"),
        ({"Input": "not json"}, "Input"),
        ({"Input": "{}", "InputPath": "$.detail"}, "only one of"),
        ({"InputTransformer": {"InputPathsMap": {"x": "$..id"}, "InputTemplate": "<x>"}}, "InputPathsMap"),
        ({"InputTransformer": {"InputPathsMap": {"x": "$.detail"}, "InputTemplate": "<y>"}}, "<y>"),
    ],
)
def test_unsupported_or_invalid_target_input_is_refused(tmp_path: Path, extra: dict[str, Any], message: str) -> None:
    resources = {**BUS, "Fn": function(), "R": rule(PATTERN, target("Fn", **extra))}
    with pytest.raises(TemplateError, match=message), stack(tmp_path, resources):
        pass


@pytest.mark.parametrize(
    ("pattern", "routed", "not_routed"),
    [
        ({"source": [{"prefix": "alchemiser."}]}, {"source": "alchemiser.x"}, {"source": "other.x"}),
        ({"detail": {"status": [{"anything-but": ["FAILED"]}]}}, {"status": "OK"}, {"status": "FAILED"}),
        ({"detail": {"qty": [{"numeric": [">", 0, "<=", 10]}]}}, {"qty": 10}, {"qty": 11}),
        ({"detail": {"plan": [{"exists": True}]}}, {"plan": "p"}, {"other": 1}),
        ({"detail": {"plan": [{"exists": False}]}}, {"other": 1}, {"plan": "p"}),
    ],
)
def test_rules_match_eventbridge_patterns(
    tmp_path: Path, pattern: dict[str, Any], routed: dict[str, Any], not_routed: dict[str, Any]
) -> None:
    resources = {**BUS, "Fn": function(), "R": rule(pattern, target("Fn"))}
    with stack(tmp_path, resources) as s:
        for fields in (routed, not_routed):
            source = fields.get("source", "alchemiser.test")
            s.publish("Done", {k: v for k, v in fields.items() if k != "source"}, source=source)
        s.router.run_until_idle()
        (call,) = PROBE.of("Fn")
        assert call.event["source"] == routed.get("source", "alchemiser.test")
        assert call.event["detail"] == {k: v for k, v in routed.items() if k != "source"}


def test_an_unknown_matcher_is_refused_not_matched(tmp_path: Path) -> None:
    resources = {**BUS, "Fn": function(), "R": rule({"detail": {"x": [{"startswith": "a"}]}}, target("Fn"))}
    with pytest.raises(ValueError, match="startswith"), stack(tmp_path, resources) as s:
        s.publish("Done", {"x": "abc"})
        s.router.run_until_idle()


def test_the_template_loader_needs_no_cfn_lint() -> None:
    """The local stack reads template.yaml with a small YAML loader: cfn-lint (seconds to import) stays out."""
    import subprocess
    import sys

    code = (
        "import sys; from the_alchemiser.local.stack.model import load_stack_model; "
        "m = load_stack_model(__import__('pathlib').Path('template.yaml')); "
        "assert len(m.functions) == 7; print(sorted(k for k in sys.modules if k.split('.')[0] == 'cfnlint'))"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().replace("'", '"')) == []
