"""Fixing a phase's quantities when it starts (stored in the plan state, the same on every redelivery):
sells limited to what is held (a full liquidation sells exactly what is held then), buys sized within the
buying power confirmed after the sells, by the planner's pro-rata rule (shared/budget.py)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from the_alchemiser.execution_v2.book_walk import quantize_qty
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.broker.models import OrderSide, Quote
from the_alchemiser.shared.budget import budget_scale
from the_alchemiser.shared.ledger.plan_state import PhaseResolution
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.schemas import RebalancePlanItem

_log = get_logger("execution_v2.sizing")
SELL = OrderSide.SELL.value
BUY = OrderSide.BUY.value


class PhaseSizer:
    def __init__(self, broker: BrokerPort, config: ExecutionConfig) -> None:
        self._broker = broker
        self._config = config

    def _tradable_note(self, symbol: str) -> tuple[bool, str]:
        asset = self._broker.get_asset(symbol)
        if not asset.tradable or asset.status != "active":
            return False, f"not tradable (halted or inactive: status {asset.status}, tradable {asset.tradable})"
        return True, ""

    def sells(self, sells: Sequence[RebalancePlanItem]) -> PhaseResolution:
        quantities: dict[str, Decimal] = {}
        notes: dict[str, str] = {}
        for item in sells:
            tradable, why = self._tradable_note(item.symbol)
            if not tradable:
                quantities[item.symbol], notes[item.symbol] = Decimal(0), why
                continue
            position = self._broker.get_position(item.symbol)
            held = position.qty if position is not None else Decimal(0)
            if item.full_liquidation:
                qty = held  # the actual quantity held now, never a rounded plan figure
                if held != item.current_qty:
                    notes[item.symbol] = f"full liquidation of the {held} held (plan saw {item.current_qty})"
            else:
                qty = planned_qty(item)
                if qty > held:
                    notes[item.symbol] = f"plan wanted {qty}, only {held} held"
                    qty = held
            fractionable = item.fractionable or held != held.to_integral_value()
            quantities[item.symbol] = quantize_qty(qty, fractionable) if not item.full_liquidation else qty
            if quantities[item.symbol] <= 0 and item.symbol not in notes:
                notes[item.symbol] = "nothing held to sell"
        return PhaseResolution(side=SELL, quantities=quantities, notes=notes)

    def buys(self, buys: Sequence[RebalancePlanItem]) -> PhaseResolution:
        """Buys sized within the buying power confirmed after the sells: a failed sell's cash is not spent."""
        account = self._broker.get_account()
        budget = max(Decimal(0), min(account.cash, account.buying_power))
        quantities: dict[str, Decimal] = {}
        notes: dict[str, str] = {}
        tradable_items: list[RebalancePlanItem] = []
        for item in buys:
            tradable, why = self._tradable_note(item.symbol)
            if tradable:
                tradable_items.append(item)
            else:
                quantities[item.symbol], notes[item.symbol] = Decimal(0), why
        quotes = self._broker.get_latest_quotes([i.symbol for i in tradable_items]) if tradable_items else {}
        costs: dict[str, Decimal] = {}
        for item in tradable_items:
            qty = quantize_qty(planned_qty(item, quotes.get(item.symbol)), item.fractionable)
            quantities[item.symbol] = qty
            price = _worst_buy_price(item, quotes.get(item.symbol))
            costs[item.symbol] = qty * price * (1 + self._config.buy_price_margin)
        total = sum(costs.values(), Decimal(0))
        factor = budget_scale(total, budget)  # the planner's pro-rata rule, against the confirmed buying power
        if factor < 1:
            for item in tradable_items:
                planned = quantities[item.symbol]
                trimmed = quantize_qty(planned * factor, item.fractionable)
                if trimmed != planned:
                    quantities[item.symbol] = trimmed
                    notes[item.symbol] = (
                        f"trimmed from {planned} to {trimmed}: buying power {budget} covers {factor:.4f} of the buys"
                    )
            _log.warning("buys_trimmed", buying_power=str(budget), planned_cost=str(total), factor=str(factor))
        return PhaseResolution(side=BUY, quantities=quantities, notes=notes, buying_power=budget)


def planned_qty(item: RebalancePlanItem, quote: Quote | None = None) -> Decimal:
    """The shares the plan item means: its quantity, or its dollars at the midpoint (else the plan's price)."""
    if item.quantity is not None:
        return item.quantity  # positive: the plan schema refuses anything else
    reference = quote.midpoint if quote is not None and quote.midpoint is not None else item.price
    if reference <= 0:
        return Decimal(0)
    dollars = item.trade_value if item.action.value == "BUY" else -item.trade_value  # signed by the action
    return dollars / reference


def _worst_buy_price(item: RebalancePlanItem, quote: Quote | None) -> Decimal:
    if quote is not None and quote.ask > 0:
        return max(quote.ask, quote.bid)
    return item.price
