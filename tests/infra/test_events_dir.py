"""events/<function>.json (for `sam local invoke -e`) are current, parse with each handler's own parsing,
and EventBridge-shaped ones are routed to their function by the template."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from tests.infra.wiring import REPO, TEMPLATE_PATH, routed_targets
from the_alchemiser.local.template import load_template
from the_alchemiser.shared.events import (
    PartialSignalGenerated,
    RebalancePlanned,
    WorkflowCompleted,
    decode_event,
)

EVENTS = REPO / "events"
FILES = {
    "strategy_orchestrator.json": "StrategyOrchestratorFunction",
    "strategy_worker.json": "StrategyFunction",
    "signal_aggregator.json": "StrategyAggregatorFunction",
    "portfolio.json": "PortfolioFunction",
    "execution.json": "ExecutionFunction",
    "notifications.json": "NotificationsFunction",
    "data_refresh.json": "DataRefreshFunction",
}


def _load_make_events() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_events", REPO / "scripts" / "make_events.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def test_one_event_per_function_and_all_current() -> None:
    make_events = _load_make_events()
    built = make_events.build_events()
    assert set(built) == set(FILES) == {p.name for p in EVENTS.glob("*.json")}
    for name, event in built.items():
        assert (EVENTS / name).read_text(encoding="utf-8") == make_events.render(event), (
            f"events/{name} is stale: run scripts/make_events.py"
        )


def test_the_orchestrator_event_is_the_schedules_input(template: dict[str, Any]) -> None:
    from the_alchemiser.coordinator_v2.trigger import OrchestratorTrigger

    event = _event("strategy_orchestrator.json")
    schedule = template["Resources"]["StrategyOrchestratorFunction"]["Properties"]["Events"]["DailyBeforeClose"]
    assert set(json.loads(schedule["Properties"]["Input"])) == set(event)
    trigger = OrchestratorTrigger.from_event(event)
    assert trigger.trigger_id == event["execution_id"] and not trigger.force


def test_the_data_refresh_event_is_the_schedules_input(template: dict[str, Any]) -> None:
    from the_alchemiser.data_v2.request import DataRefreshRequest

    event = _event("data_refresh.json")
    (schedule,) = template["Resources"]["DataRefreshFunction"]["Properties"]["Events"].values()
    assert set(json.loads(schedule["Properties"]["Input"])) == set(event)
    request = DataRefreshRequest.from_event(event)
    assert request.symbols is None and request.target_date is None


def test_the_worker_event_is_a_request_for_a_real_strategy() -> None:
    from the_alchemiser.shared.schemas import StrategyWorkerRequest

    request = StrategyWorkerRequest.model_validate(_event("strategy_worker.json"))
    assert (REPO / "strategies" / request.dsl_file).is_file()


def _decoded_detail(event: dict[str, Any]) -> Any:
    envelope = EventBridgeModel.model_validate(event)
    assert isinstance(envelope.detail, dict)
    return decode_event(envelope.detail, None)


@pytest.mark.parametrize(
    ("name", "event_type"),
    [
        ("signal_aggregator.json", PartialSignalGenerated),
        ("notifications.json", WorkflowCompleted),
    ],
)
def test_eventbridge_events_parse_and_route_to_their_function(
    template: dict[str, Any], name: str, event_type: type
) -> None:
    event = _event(name)
    assert isinstance(_decoded_detail(event), event_type)
    assert routed_targets(template, event) == {FILES[name]}


def test_the_portfolio_event_parses_with_the_portfolio_parser(template: dict[str, Any]) -> None:
    from the_alchemiser.portfolio_v2.service import parse_signal_event

    event = _event("portfolio.json")
    assert parse_signal_event(event, None).signal_count == 2
    assert routed_targets(template, event) == {"PortfolioFunction"}


def test_the_execution_event_is_an_sqs_batch_of_the_routed_plan(template: dict[str, Any]) -> None:
    from the_alchemiser.execution_v2.lambda_handler import parse_record

    (record,) = _event("execution.json")["Records"]
    assert record["eventSource"] == "aws:sqs"
    queue_name = template["Resources"]["ExecutionQueue"]["Properties"]["QueueName"]["Fn::Sub"]
    assert record["eventSourceARN"].endswith(":" + queue_name.replace("${Stage}${InstanceSuffix}", "dev"))
    assert isinstance(parse_record(record["body"], None), RebalancePlanned)
    assert routed_targets(template, json.loads(record["body"])) == {"ExecutionQueue"}


def test_a_changed_event_file_is_noticed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_events = _load_make_events()
    for name, event in make_events.build_events().items():
        (tmp_path / name).write_text(make_events.render(event), encoding="utf-8")
    (tmp_path / "portfolio.json").write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(make_events, "EVENTS_DIR", tmp_path)
    assert make_events.main(["make_events.py", "--check"]) == 1
