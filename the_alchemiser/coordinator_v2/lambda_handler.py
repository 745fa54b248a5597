"""Strategy Orchestrator Lambda: the schedule's event (or a manual `{"force": true, "date": ...}`)."""

from __future__ import annotations

from typing import Any

from the_alchemiser.coordinator_v2.service import StrategyOrchestrator
from the_alchemiser.coordinator_v2.trigger import OrchestratorTrigger
from the_alchemiser.coordinator_v2.wiring import get_orchestrator


def handle(event: dict[str, Any] | None, orchestrator: StrategyOrchestrator, context: Any = None) -> dict[str, Any]:
    return dict(orchestrator.run(OrchestratorTrigger.from_event(event), lambda_context=context).as_dict())


def lambda_handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    return handle(event, get_orchestrator(), context)
