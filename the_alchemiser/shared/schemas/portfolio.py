"""Signals and the consolidated portfolio, with per-strategy contributions kept end to end."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field, model_validator

from the_alchemiser.shared.schemas.base import WireModel
from the_alchemiser.shared.types import Money

WEIGHT_TOLERANCE = Decimal("1e-9")
_ZERO = Decimal(0)


class StrategySignal(WireModel):
    """One strategy file's answer for a day: its own weights (sum 1) and its share of the portfolio."""

    strategy: str = Field(description="strategy file name, e.g. nuclear.clj")
    strategy_name: str = Field(description="the defsymphony name")
    allocation: Money = Field(description="this file's share of the portfolio, 0..1")
    weights: dict[str, Money] = Field(description="the strategy's own weights, summing to 1")
    as_of: date
    rebalance_threshold: Money | None = None
    trace_summary: list[str] = Field(default_factory=list)
    trace_s3_key: str | None = None

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> StrategySignal:
        if any(w < 0 for w in self.weights.values()):
            raise ValueError(f"{self.strategy}: negative weight")
        if self.weights and abs(sum(self.weights.values(), Decimal(0)) - 1) > WEIGHT_TOLERANCE:
            raise ValueError(f"{self.strategy}: weights sum to {sum(self.weights.values())}, not 1")
        if not Decimal(0) <= self.allocation <= 1:
            raise ValueError(f"{self.strategy}: allocation {self.allocation} outside 0..1")
        return self

    def scaled_weights(self) -> dict[str, Decimal]:
        """The strategy's weights times its allocation: its contribution to the portfolio."""
        return {symbol: weight * self.allocation for symbol, weight in self.weights.items()}


class ConsolidatedPortfolio(WireModel):
    """The merged target: weights per symbol summing to 1, and who wants what."""

    as_of: date
    target_weights: dict[str, Money]
    strategy_contributions: dict[str, dict[str, Money]] = Field(
        description="strategy file -> symbol -> contribution to target_weights (scaled by allocation)"
    )
    strategy_allocations: dict[str, Money]
    rebalance_thresholds: dict[str, Money] = Field(default_factory=dict)
    decision_paths: dict[str, list[str]] = Field(
        default_factory=dict,
        description="strategy file -> its trace summary (the decisions to what it holds); set by the portfolio "
        "step from the signals, so the plan and the outcome carry it (SignalGenerated has it in signals_data)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ConsolidatedPortfolio:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        """Why this portfolio cannot be traded (empty when it can): every weight, contribution and allocation
        in [0, 1], the weights summing to 1 and matching their contributions. The planner asks again, so a
        portfolio that skipped validation (model_construct) is refused there too."""
        outside = [
            f"{symbol}: target weight {weight} outside [0, 1]"
            for symbol, weight in self.target_weights.items()
            if not _ZERO <= weight <= 1
        ]
        outside += [
            f"{strategy}: contribution {weight} to {symbol} outside [0, 1]"
            for strategy, contributions in self.strategy_contributions.items()
            for symbol, weight in contributions.items()
            if not _ZERO <= weight <= 1
        ]
        outside += [
            f"{strategy}: allocation {allocation} outside [0, 1]"
            for strategy, allocation in self.strategy_allocations.items()
            if not _ZERO <= allocation <= 1
        ]
        if outside:
            return outside
        total = sum(self.target_weights.values(), _ZERO)
        if self.target_weights and abs(total - 1) > WEIGHT_TOLERANCE:
            return [f"target weights sum to {total}, not 1"]
        for symbol, weight in self.target_weights.items():
            contributed = sum((c.get(symbol, _ZERO) for c in self.strategy_contributions.values()), _ZERO)
            if abs(contributed - weight) > WEIGHT_TOLERANCE:
                return [f"{symbol}: contributions {contributed} != target {weight}"]
        return []

    @classmethod
    def merge(cls, signals: list[StrategySignal]) -> ConsolidatedPortfolio:
        """Weighted sum per symbol over strategies, contributions kept per strategy."""
        if not signals:
            raise ValueError("no signals to merge")
        as_of = max(s.as_of for s in signals)
        contributions = {s.strategy: s.scaled_weights() for s in signals}
        allocations = {s.strategy: s.allocation for s in signals}
        total_allocation = sum(allocations.values(), Decimal(0))
        if abs(total_allocation - 1) > WEIGHT_TOLERANCE:
            raise ValueError(f"strategy allocations sum to {total_allocation}, not 1")
        targets: dict[str, Decimal] = {}
        for scaled in contributions.values():
            for symbol, weight in scaled.items():
                targets[symbol] = targets.get(symbol, Decimal(0)) + weight
        thresholds = {s.strategy: s.rebalance_threshold for s in signals if s.rebalance_threshold is not None}
        return cls(
            as_of=as_of,
            target_weights=dict(sorted(targets.items())),
            strategy_contributions=contributions,
            strategy_allocations=allocations,
            rebalance_thresholds=thresholds,
        )

    def with_decision_paths(self, signals: list[StrategySignal]) -> ConsolidatedPortfolio:
        """This portfolio carrying each strategy's trace summary, for the steps after the signals (the plan,
        the outcome, the email), which no longer see the signals themselves."""
        paths = {s.strategy: list(s.trace_summary) for s in signals if s.trace_summary}
        return self.model_copy(update={"decision_paths": paths})

    def attribution(self, symbol: str) -> dict[str, Decimal]:
        """strategy -> that strategy's share of this symbol's target weight (sums to 1 when targeted)."""
        weight = self.target_weights.get(symbol, Decimal(0))
        if weight == 0:
            return {}
        return {
            strategy: contribution[symbol] / weight
            for strategy, contribution in self.strategy_contributions.items()
            if contribution.get(symbol, Decimal(0)) > 0
        }
