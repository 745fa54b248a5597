"""Strategy Orchestrator Lambda: the schedule's event (or a manual `{"force": true, "date": ...}`)."""

from __future__ import annotations

from typing import Any

from the_alchemiser.coordinator_v2.service import StrategyOrchestrator
from the_alchemiser.coordinator_v2.trigger import OrchestratorTrigger
from the_alchemiser.coordinator_v2.wiring import get_orchestrator
from the_alchemiser.shared.logging import message_id_of, rejecting, with_lambda_context


def handle(event: dict[str, Any] | None, orchestrator: StrategyOrchestrator) -> dict[str, Any]:
    with rejecting(message_id_of(event), source="schedule"):
        trigger = OrchestratorTrigger.from_event(event)
    return dict(orchestrator.run(trigger).as_dict())


@with_lambda_context
def lambda_handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    return handle(event, get_orchestrator())
