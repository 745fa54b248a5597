"""Strategy Worker Lambda: one async invoke from the orchestrator = one strategy file evaluated."""

from __future__ import annotations

from typing import Any

from the_alchemiser.shared.logging import with_lambda_context
from the_alchemiser.shared.rejections import message_id_of, rejecting
from the_alchemiser.shared.schemas import StrategyWorkerRequest
from the_alchemiser.strategy_v2.wiring import get_worker
from the_alchemiser.strategy_v2.worker_service import StrategyWorker


def handle(event: dict[str, Any], worker: StrategyWorker) -> dict[str, object]:
    with rejecting(message_id_of(event), source="invoke"):
        request = StrategyWorkerRequest.model_validate(event)
    return worker.run(request).as_dict()


@with_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, object]:
    return handle(event, get_worker())
