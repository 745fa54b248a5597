"""What the infra tests check, as functions over a loaded template, so a broken copy can be checked too.

The routing check publishes real events through `EventBridgePublisher` (into a recording client),
wraps each entry as EventBridge delivers it, and matches it against the template's rules with the
same matcher the local stack uses."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from the_alchemiser.local.stack.patterns import matches
from the_alchemiser.shared.events import (
    BaseEvent,
    EventBridgePublisher,
    PartialSignalGenerated,
    RebalancePlanned,
    SignalGenerated,
    TradeExecuted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
)
from the_alchemiser.shared.schemas import (
    ConsolidatedPortfolio,
    ExecutionResult,
    ExecutionStatus,
    RebalancePlan,
    StrategySignal,
)

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO / "template.yaml"
BUS = "AlchemiserEventBus"

# docs/decisions.md, "Routing": detail-type -> the logical ids its rule(s) must target
EXPECTED_TARGETS: dict[str, set[str]] = {
    "PartialSignalGenerated": {"StrategyAggregatorFunction"},
    "SignalGenerated": {"PortfolioFunction"},
    "RebalancePlanned": {"ExecutionQueue"},
    "TradeExecuted": {"NotificationsFunction"},
    "WorkflowCompleted": {"NotificationsFunction"},
    "WorkflowFailed": {"NotificationsFunction"},
    "WorkflowStarted": set(),
}

# function logical id -> (functions/ directory, business module), as the seed's Lambda table
FUNCTIONS: dict[str, tuple[str, str]] = {
    "StrategyOrchestratorFunction": ("strategy_orchestrator", "coordinator_v2"),
    "StrategyFunction": ("strategy_worker", "strategy_v2"),
    "StrategyAggregatorFunction": ("signal_aggregator", "aggregator_v2"),
    "PortfolioFunction": ("portfolio", "portfolio_v2"),
    "ExecutionFunction": ("execution", "execution_v2"),
    "NotificationsFunction": ("notifications", "notifications_v2"),
    "DataRefreshFunction": ("data_refresh", "data_v2"),
}

FUNCTION_NAMES: dict[str, str] = {
    "StrategyOrchestratorFunction": "strategy-orchestrator",
    "StrategyFunction": "strategy-worker",
    "StrategyAggregatorFunction": "signal-aggregator",
    "PortfolioFunction": "portfolio",
    "ExecutionFunction": "execution",
    "NotificationsFunction": "notifications",
    "DataRefreshFunction": "data-refresh",
}

T0 = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
DAY = date(2026, 11, 20)


# ------------------------------------------------------------------------------------ real events
def _signal(strategy: str, allocation: str, weights: dict[str, str]) -> StrategySignal:
    return StrategySignal(
        strategy=strategy,
        strategy_name=strategy.removesuffix(".clj"),
        allocation=Decimal(allocation),
        weights={symbol: Decimal(weight) for symbol, weight in weights.items()},
        as_of=date(2026, 11, 19),
    )


def _result() -> ExecutionResult:
    return ExecutionResult(
        plan_id="plan-1",
        correlation_id="wf-1",
        status=ExecutionStatus.NO_TRADES,
        orders=[],
        orders_placed=0,
        orders_succeeded=0,
        total_buy_value=Decimal(0),
        total_sell_value=Decimal(0),
        started_at=T0,
        completed_at=T0,
    )


def sample_events() -> list[BaseEvent]:
    """One real event of every type, from the module that publishes it (WorkflowFailed: from each)."""
    signals = [_signal("nuclear.clj", "0.6", {"SPY": "1"}), _signal("tecl.clj", "0.4", {"BIL": "1"})]
    portfolio = ConsolidatedPortfolio.merge(signals)
    plan = RebalancePlan(
        plan_id="plan-1",
        correlation_id="wf-1",
        trading_date=DAY,
        created_at=T0,
        equity=Decimal(1000),
        cash=Decimal(1000),
        deployable_equity=Decimal(1000),
        items=[],
        total_sell_value=Decimal(0),
        total_buy_value=Decimal(0),
        estimated_cash_after=Decimal(1000),
    )
    base = {"correlation_id": "wf-1", "causation_id": "cause-1"}
    events: list[BaseEvent] = [
        WorkflowStarted(
            **base,
            source_module="coordinator_v2",
            source_component="orchestrator",
            trading_date=DAY,
            stage="dev",
            session_id="s-1",
            strategies={"nuclear.clj": Decimal("0.6"), "tecl.clj": Decimal("0.4")},
            deadline=T0,
        ),
        PartialSignalGenerated(
            **base,
            source_module="strategy_v2",
            source_component="worker",
            session_id="s-1",
            dsl_file="nuclear.clj",
            strategy_number=1,
            total_strategies=2,
            success=True,
            signals_data=signals[0],
        ),
        SignalGenerated(
            **base,
            source_module="aggregator_v2",
            source_component="aggregator",
            session_id="s-1",
            signals_data=signals,
            consolidated_portfolio=portfolio,
            signal_count=2,
        ),
        RebalancePlanned(
            **base,
            source_module="portfolio_v2",
            source_component="planner",
            rebalance_plan=plan,
            allocation_comparison={},
            trades_required=False,
            consolidated_portfolio=portfolio,
        ),
        TradeExecuted(
            **base,
            source_module="execution_v2",
            source_component="executor",
            execution_data=_result(),
            orders_placed=0,
            orders_succeeded=0,
        ),
        WorkflowCompleted(**base, source_module="execution_v2", source_component="executor", success=True, summary={}),
    ]
    for module in ("coordinator_v2", "strategy_v2", "aggregator_v2", "portfolio_v2", "execution_v2"):
        events.append(
            WorkflowFailed(
                **base, source_module=module, source_component="x", failure_reason="boom", failure_step="execution"
            )
        )
    return events


class RecordingEventsClient:
    """boto3 `events` client stand-in that keeps what EventBridgePublisher sends."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}


def published_envelope(event: BaseEvent) -> dict[str, Any]:
    """The event as a rule sees it: Source/DetailType/Detail exactly as EventBridgePublisher sends them."""
    client = RecordingEventsClient()
    EventBridgePublisher(client, "alchemiser-dev-events").publish(event)
    (entry,) = client.entries
    return {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": "123456789012",
        "time": "2026-11-20T20:30:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }


# ------------------------------------------------------------------------------------ template reading
def referenced_id(expression: Any) -> str | None:
    """The logical id an ARN/name expression points at: !Ref X, !GetAtt X.Arn, or ${X.Arn}/... in a !Sub."""
    if isinstance(expression, dict):
        if "Ref" in expression:
            return str(expression["Ref"])
        if "Fn::GetAtt" in expression:
            target = expression["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Fn::Sub" in expression:
            text = expression["Fn::Sub"]
            text = text[0] if isinstance(text, list) else text
            if "${" in text:
                return str(text.split("${", 1)[1].split("}", 1)[0].split(".")[0])
    return None


def rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::Events::Rule"}


def routed_targets(template: dict[str, Any], envelope: dict[str, Any]) -> set[str]:
    """Logical ids that rules on the Alchemiser bus deliver this envelope to."""
    targets: set[str] = set()
    for rule in rules(template).values():
        props = rule["Properties"]
        if referenced_id(props.get("EventBusName")) != BUS or props.get("State", "ENABLED") != "ENABLED":
            continue
        if "EventPattern" in props and matches(props["EventPattern"], envelope):
            targets |= {str(referenced_id(t["Arn"])) for t in props.get("Targets", [])}
    return targets


def routing_errors(template: dict[str, Any]) -> list[str]:
    """Every way the template's routing differs from docs/decisions.md, for the real published events."""
    errors: list[str] = []
    resources = template["Resources"]
    for event in sample_events():
        envelope = published_envelope(event)
        expected = EXPECTED_TARGETS[event.event_type]
        got = routed_targets(template, envelope)
        if got != expected:
            errors.append(
                f"{event.event_type} from {envelope['source']}: routed to {sorted(got)}, expected {sorted(expected)}"
            )
    for rule_id, rule in rules(template).items():
        for target in rule["Properties"].get("Targets", []):
            target_id = referenced_id(target["Arn"])
            if target_id not in resources:
                errors.append(f"{rule_id}: target {target_id} is not in the template")
                continue
            kind = resources[target_id]["Type"]
            if kind == "AWS::Serverless::Function" and not _lambda_permission(template, target_id, rule_id):
                errors.append(f"{rule_id}: no AWS::Lambda::Permission lets the rule invoke {target_id}")
            if kind == "AWS::SQS::Queue" and not _queue_policy(template, target_id, rule_id):
                errors.append(f"{rule_id}: no queue policy lets the rule send to {target_id}")
            dead_letter = referenced_id(target.get("DeadLetterConfig", {}).get("Arn"))
            if dead_letter is None:
                errors.append(f"{rule_id}: target {target_id} has no dead-letter queue (a failed delivery is lost)")
            elif not _queue_policy(template, dead_letter, rule_id):
                errors.append(f"{rule_id}: no queue policy lets the rule park undeliverable events in {dead_letter}")
    errors += _queue_consumer_errors(template)
    return errors


def _lambda_permission(template: dict[str, Any], function: str, rule: str) -> bool:
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Permission":
            continue
        props = resource["Properties"]
        if (
            referenced_id(props["FunctionName"]) == function
            and props.get("Principal") == "events.amazonaws.com"
            and referenced_id(props.get("SourceArn")) == rule
        ):
            return True
    return False


def _queue_policy(template: dict[str, Any], queue: str, rule: str) -> bool:
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::SQS::QueuePolicy":
            continue
        props = resource["Properties"]
        if queue not in {referenced_id(q) for q in props["Queues"]}:
            continue
        for statement in props["PolicyDocument"]["Statement"]:
            sources = _as_list(statement.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn"))
            if (
                statement.get("Principal") == {"Service": "events.amazonaws.com"}
                and "sqs:SendMessage" in _as_list(statement.get("Action"))
                and referenced_id(statement.get("Resource")) == queue
                and rule in {referenced_id(source) for source in sources}
            ):
                return True
    return False


def event_source_mappings(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]


def _queue_consumer_errors(template: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    consumers = {
        referenced_id(m["EventSourceArn"]): (referenced_id(m["FunctionName"]), m)
        for m in event_source_mappings(template)
    }
    execution = consumers.get("ExecutionQueue")
    if execution is None or execution[0] != "ExecutionFunction":
        errors.append("ExecutionQueue is not consumed by ExecutionFunction")
    else:
        mapping = execution[1]
        if mapping.get("BatchSize") != 1:
            errors.append(f"ExecutionQueue -> ExecutionFunction BatchSize is {mapping.get('BatchSize')}, not 1")
        if "ReportBatchItemFailures" not in mapping.get("FunctionResponseTypes", []):
            errors.append("ExecutionQueue -> ExecutionFunction does not report batch item failures")
    deadline = consumers.get("SessionDeadlineQueue")
    if deadline is None or deadline[0] != "StrategyAggregatorFunction":
        errors.append("SessionDeadlineQueue is not consumed by StrategyAggregatorFunction")
    return errors


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def as_list(value: Any) -> list[Any]:
    return _as_list(value)


def function_environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**globals_env, **own}
