"""The orchestrator's request to a strategy worker (async Lambda invoke payload)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from the_alchemiser.shared.schemas.base import WireModel
from the_alchemiser.shared.types import Money


class StrategyWorkerRequest(WireModel):
    session_id: str
    correlation_id: str
    causation_id: str
    dsl_file: str = Field(description="file name under strategies/, e.g. nuclear.clj")
    strategy_number: int = Field(ge=1)
    total_strategies: int = Field(ge=1)
    allocation: Money
    as_of: date = Field(description="evaluate with completed bars up to and including this day")
    trading_date: date
    stage: str
