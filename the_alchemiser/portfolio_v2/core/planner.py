"""The rebalance planner: a pure function from (target portfolio, account snapshot) to a plan.

Decisions the spec left open, fixed here:
- Deployable equity = equity * deployment_fraction - cash_buffer (never below 0). Target dollars =
  weight * deployable equity, so after a full rebalance at least cash_buffer stays in cash.
- Held symbols no strategy targets are sold completely with the position's exact quantity
  (full_liquidation=True), whatever their value: a dust position is closed, not left forever. They
  are attributed to UNATTRIBUTED ({"UNATTRIBUTED": 1}, the label the report uses too), because no
  strategy wants them and the positions themselves carry no owner; attribution sums to 1 on every item.
- Quantities are rounded DOWN (9 decimals for fractionable assets, whole shares otherwise): a sell
  never sells more than intended, a buy never spends more than intended.
- Buys are paid from min(cash, buying_power) + estimated sell proceeds - cash_buffer. When the
  buys want more, every buy is scaled by the same factor (then rounded down again), so the plan
  never spends money it will not have; buys that fall below the minimum trade value become HOLDs.
- Minimum trade value (default $50, `MIN_TRADE_VALUE`): a leg worth less is skipped (a HOLD carrying
  `skipped_trade_value`, the signed dollars not traded, and the reason). Alpaca takes notional orders
  from $1, but a leg's fixed costs do not shrink with it: each sell pays the SEC fee and FINRA's TAF,
  each rounded up to a cent, and every order crosses part of the spread and spends requests; at $50
  the fixed part stays under 4 bps, and a leg that small moves a $100k account by 0.05%.
- Corridor (a strategy's rebalance_threshold): the rule is `shared/corridor.py`, shared with the backtest;
  drift is measured over deployable equity.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Context, Decimal, getcontext

from the_alchemiser.portfolio_v2.core.snapshot import PortfolioSnapshot, SymbolState
from the_alchemiser.shared.budget import budget_scale
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.corridor import symbols_inside_corridor
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, RebalancePlan, RebalancePlanItem, TradeAction

UNATTRIBUTED = "UNATTRIBUTED"
FRACTIONAL_QTY_STEP = Decimal("0.000000001")  # Alpaca accepts up to 9 decimal places
WHOLE_SHARE = Decimal(1)
_ZERO = Decimal(0)
DEFAULT_MIN_TRADE_VALUE = Decimal(50)
CENT = Decimal("0.01")
_PLAN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/the-alchemiser/rebalance-plan")


class PlanningError(ValueError):
    """The inputs cannot produce a safe plan."""


class MissingPriceError(PlanningError):
    """Symbols the plan needs that have no usable price: never sized at 0."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.symbols = sorted(symbols)
        super().__init__(f"no usable price for: {', '.join(self.symbols)}")


@dataclass(frozen=True)
class PlannerConfig:
    deployment_fraction: Decimal = Decimal(1)
    cash_buffer: Decimal = _ZERO  # dollars kept in cash
    min_trade_value: Decimal = DEFAULT_MIN_TRADE_VALUE  # smaller legs are skipped (HOLD, reported)
    use_corridors: bool = True  # honour strategies' rebalance_threshold

    def __post_init__(self) -> None:
        if not _ZERO < self.deployment_fraction <= 1:
            raise ValueError(f"deployment_fraction {self.deployment_fraction} must be in (0, 1]")
        if self.cash_buffer < 0:
            raise ValueError(f"cash_buffer {self.cash_buffer} must not be negative")
        if self.min_trade_value < 0:
            raise ValueError(f"min_trade_value {self.min_trade_value} must not be negative")


def plan_id_for(correlation_id: str) -> str:
    """The same workflow always gets the same plan id."""
    return f"plan-{uuid.uuid5(_PLAN_NAMESPACE, correlation_id)}"


def shares_for(dollars: Decimal, price: Decimal, fractionable: bool) -> Decimal:
    """The most shares `dollars` pays for at `price`, in the asset's step. The division itself rounds
    down too: at the context's 28 digits a quotient such as 1000.00199...9 would round up to 1000.002,
    and 1000.002 shares cost more than the dollars."""
    step = FRACTIONAL_QTY_STEP if fractionable else WHOLE_SHARE
    quotient = Context(prec=getcontext().prec, rounding=ROUND_DOWN).divide(dollars, price)
    rounded = quotient.quantize(step, rounding=ROUND_DOWN)
    return rounded if rounded > 0 else _ZERO


@dataclass
class _Row:
    """One symbol while the plan is being built."""

    symbol: str
    state: SymbolState
    price: Decimal
    current_qty: Decimal
    current_value: Decimal
    target_weight: Decimal
    target_value: Decimal
    attribution: dict[str, Decimal]
    action: TradeAction = TradeAction.HOLD
    quantity: Decimal | None = None
    trade_value: Decimal = _ZERO
    full_liquidation: bool = False
    reason: str = ""
    wanted_buy: Decimal = _ZERO  # dollars a buy would like before the cash check
    skipped_trade_value: Decimal | None = None

    def hold(self, reason: str) -> None:
        self.action, self.quantity, self.trade_value, self.reason = TradeAction.HOLD, None, _ZERO, reason

    def skip(self, value: Decimal, minimum: Decimal, what: str) -> None:
        """A leg worth less than the minimum trade value: not traded, and said so."""
        self.hold(f"{what} of {abs(value):.2f} below the minimum trade value {minimum:.2f}")
        self.skipped_trade_value = value

    def to_item(self) -> RebalancePlanItem:
        return RebalancePlanItem(
            symbol=self.symbol,
            action=self.action,
            current_qty=self.current_qty,
            current_value=self.current_value,
            price=self.price,
            target_weight=self.target_weight,
            target_value=self.target_value,
            trade_value=self.trade_value,
            quantity=self.quantity,
            fractionable=self.state.fractionable,
            full_liquidation=self.full_liquidation,
            reason=self.reason,
            strategy_attribution=self.attribution,
            skipped_trade_value=self.skipped_trade_value,
        )


class RebalancePlanner:
    def __init__(self, config: PlannerConfig | None = None) -> None:
        self.config = config or PlannerConfig()

    def plan(
        self,
        portfolio: ConsolidatedPortfolio,
        snapshot: PortfolioSnapshot,
        *,
        correlation_id: str,
        created_at: datetime | None = None,
        trading_date: date | None = None,
    ) -> RebalancePlan:
        """The trades that move `snapshot` to `portfolio`. Raises PlanningError (MissingPriceError
        naming every unpriced symbol) instead of guessing."""
        config = self.config
        created = created_at or snapshot.as_of
        if snapshot.equity <= 0:
            raise PlanningError(f"account equity is {snapshot.equity}: nothing to plan with")
        problems = portfolio.problems()  # each weight in [0, 1], summing to 1 (#14 finding 8)
        if problems:
            raise PlanningError("the target portfolio cannot be traded: " + "; ".join(problems))
        targets = {s: w for s, w in portfolio.target_weights.items() if w > 0}
        held = {s: p for s, p in snapshot.positions.items() if p.qty > 0}
        symbols = sorted(set(targets) | set(held))
        unpriced = [
            s for s in symbols if (state := snapshot.symbols.get(s)) is None or state.price is None or state.price <= 0
        ]
        if unpriced:
            raise MissingPriceError(unpriced)

        deployable = max(_ZERO, snapshot.equity * config.deployment_fraction - config.cash_buffer)
        rows = {s: self._row(s, portfolio, snapshot, targets, deployable) for s in symbols}
        holding_corridor = self._symbols_inside_corridor(portfolio, rows, targets, held, deployable)

        for row in rows.values():
            if row.target_weight == 0:
                self._liquidate(row)
            elif not row.state.tradable:
                row.hold("asset is not tradable")
            elif row.symbol in holding_corridor:
                row.hold("inside the rebalance corridor")
            else:
                self._size(row)

        sell_proceeds = sum((-r.trade_value for r in rows.values() if r.action == TradeAction.SELL), _ZERO)
        self._fund_buys([r for r in rows.values() if r.wanted_buy > 0], snapshot, sell_proceeds)

        items = [rows[s].to_item() for s in symbols]
        total_sell = sum((-i.trade_value for i in items if i.action == TradeAction.SELL), _ZERO)
        total_buy = sum((i.trade_value for i in items if i.action == TradeAction.BUY), _ZERO)
        return RebalancePlan(
            plan_id=plan_id_for(correlation_id),
            correlation_id=correlation_id,
            trading_date=trading_date or created.astimezone(NEW_YORK).date(),
            created_at=created,
            equity=snapshot.equity,
            cash=snapshot.cash,
            deployable_equity=deployable,
            items=items,
            total_sell_value=total_sell,
            total_buy_value=total_buy,
            estimated_cash_after=snapshot.cash + total_sell - total_buy,
        )

    @staticmethod
    def _row(
        symbol: str,
        portfolio: ConsolidatedPortfolio,
        snapshot: PortfolioSnapshot,
        targets: Mapping[str, Decimal],
        deployable: Decimal,
    ) -> _Row:
        state = snapshot.symbols[symbol]
        assert state.price is not None  # checked by the caller
        qty = snapshot.held_qty(symbol) if snapshot.held_qty(symbol) > 0 else _ZERO
        weight = targets.get(symbol, _ZERO)
        attribution = portfolio.attribution(symbol) if weight > 0 else {UNATTRIBUTED: Decimal(1)}
        return _Row(
            symbol=symbol,
            state=state,
            price=state.price,
            current_qty=qty,
            current_value=qty * state.price,
            target_weight=weight,
            target_value=weight * deployable,
            attribution=attribution,
        )

    @staticmethod
    def _liquidate(row: _Row) -> None:
        if not row.state.tradable:
            row.hold("not targeted, but the asset is not tradable: cannot sell it")
            return
        row.action = TradeAction.SELL
        row.quantity = row.current_qty  # the exact held quantity, never rounded (failure mode 9)
        row.trade_value = -row.current_value
        row.full_liquidation = True
        row.reason = "not targeted by any strategy: close the position"

    def _size(self, row: _Row) -> None:
        delta = row.target_value - row.current_value
        minimum = self.config.min_trade_value
        if abs(delta) < CENT:
            row.hold("at target")
            return
        if abs(delta) < minimum:
            row.skip(delta, minimum, "buy" if delta > 0 else "sell")
            return
        if delta > 0:
            row.wanted_buy = delta  # sized after the cash check
            return
        qty = min(shares_for(-delta, row.price, row.state.fractionable), row.current_qty)
        value = qty * row.price
        if qty == 0:
            row.hold("sell is less than one whole share")
        elif value < minimum:
            row.skip(-value, minimum, "sell")
        else:
            row.action, row.quantity, row.trade_value = TradeAction.SELL, qty, -value
            row.reason = "above target"

    def _fund_buys(self, buys: list[_Row], snapshot: PortfolioSnapshot, sell_proceeds: Decimal) -> None:
        available = max(_ZERO, snapshot.spendable_cash + sell_proceeds - self.config.cash_buffer)
        wanted = sum((r.wanted_buy for r in buys), _ZERO)
        scale = budget_scale(wanted, available)
        for row in buys:
            budget = row.wanted_buy * scale
            qty = shares_for(budget, row.price, row.state.fractionable)
            value = qty * row.price
            trimmed = f" (buys scaled to {scale:.4%}: cash after sells is {available:.2f})" if scale < 1 else ""
            if qty == 0:
                row.hold(f"buy of {budget:.2f} is less than one whole share{trimmed}")
            elif value < self.config.min_trade_value:
                row.skip(value, self.config.min_trade_value, "buy")
                row.reason += trimmed
            else:
                row.action, row.quantity, row.trade_value = TradeAction.BUY, qty, value
                row.reason = f"below target{trimmed}"

    def _symbols_inside_corridor(
        self,
        portfolio: ConsolidatedPortfolio,
        rows: Mapping[str, _Row],
        targets: Mapping[str, Decimal],
        held: Mapping[str, object],
        deployable: Decimal,
    ) -> set[str]:
        if not self.config.use_corridors or deployable <= 0:
            return set()
        return symbols_inside_corridor(
            current={symbol: rows[symbol].current_value / deployable for symbol in held},
            target=targets,
            contributions=portfolio.strategy_contributions,
            allocations=portfolio.strategy_allocations,
            thresholds=portfolio.rebalance_thresholds,
        )


def allocation_comparison(plan: RebalancePlan) -> dict[str, dict[str, Decimal]]:
    """symbol -> target and current weight and value, for the event and the email."""
    comparison: dict[str, dict[str, Decimal]] = {}
    for item in plan.items:
        comparison[item.symbol] = {
            "target_weight": item.target_weight,
            "current_weight": item.current_value / plan.equity if plan.equity > 0 else _ZERO,
            "target_value": item.target_value,
            "current_value": item.current_value,
        }
    return comparison
