"""DTOs carried by events."""

from the_alchemiser.shared.schemas.execution import (
    ExecutionResult,
    ExecutionStatus,
    OrderOutcome,
    OrderResult,
    QuoteSnapshot,
)
from the_alchemiser.shared.schemas.portfolio import ConsolidatedPortfolio, StrategySignal
from the_alchemiser.shared.schemas.rebalance import RebalancePlan, RebalancePlanItem, TradeAction
from the_alchemiser.shared.schemas.strategy import StrategyWorkerRequest

__all__ = [
    "ConsolidatedPortfolio",
    "ExecutionResult",
    "ExecutionStatus",
    "OrderOutcome",
    "OrderResult",
    "QuoteSnapshot",
    "RebalancePlan",
    "RebalancePlanItem",
    "StrategySignal",
    "StrategyWorkerRequest",
    "TradeAction",
]
