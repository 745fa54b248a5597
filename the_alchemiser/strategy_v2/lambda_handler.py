"""Strategy Worker Lambda: one async invoke from the orchestrator = one strategy file evaluated."""

from __future__ import annotations

from typing import Any

from the_alchemiser.shared.schemas import StrategyWorkerRequest
from the_alchemiser.strategy_v2.wiring import get_worker
from the_alchemiser.strategy_v2.worker_service import StrategyWorker


def handle(event: dict[str, Any], worker: StrategyWorker) -> dict[str, object]:
    return worker.run(StrategyWorkerRequest.model_validate(event)).as_dict()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, object]:
    return handle(event, get_worker())
