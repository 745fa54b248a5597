"""Strategy Orchestrator Lambda: the schedule's event (or a manual `{"force": true, "date": ...}`), and the
start check's `{"check": "workflow-started"}` 15 minutes after each run time (start_check.py)."""

from __future__ import annotations

from typing import Any

from the_alchemiser.coordinator_v2 import start_check
from the_alchemiser.coordinator_v2.service import StrategyOrchestrator
from the_alchemiser.coordinator_v2.trigger import OrchestratorTrigger
from the_alchemiser.coordinator_v2.wiring import get_orchestrator
from the_alchemiser.shared.logging import with_lambda_context
from the_alchemiser.shared.rejections import message_id_of, rejecting


def handle(event: dict[str, Any] | None, orchestrator: StrategyOrchestrator, context: Any = None) -> dict[str, Any]:
    with rejecting(message_id_of(event), source="schedule"):
        trigger = OrchestratorTrigger.from_event(event)
    return dict(orchestrator.run(trigger, lambda_context=context).as_dict())


@with_lambda_context
def lambda_handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    if start_check.is_start_check(event):
        return start_check.get_start_check().run().as_dict()
    return handle(event, get_orchestrator(), context)
