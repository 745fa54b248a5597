"""The CSV performance report: one row per (filled order, strategy), built from the trade ledger.

Method
- Rows: every ledger order of the workflow with a fill. An order attributed to several strategies
  is split by its `strategy_attribution` shares (normalised to sum 1; none -> "UNATTRIBUTED").
  Quantities and values are split exactly: every share but the last is rounded, the last strategy
  (by name) takes the remainder, so the rows of an order always sum to the order's ledger values.
- Realised P&L: average cost per symbol over the account's whole ledger history for that symbol,
  walked in placement order. A buy adds its fill to the position at its fill price; a sell realises
  qty * (fill price - average cost) and reduces the position at average cost. Each sell's cost basis is
  rounded to 6 decimal places once (average cost divides), so every total adds up exactly and a
  sell's value - basis = P&L holds in the CSV to the last digit. The account is long
  only, so a sell larger than the position the ledger knows (shares bought before the ledger
  existed) has an unknown basis: its P&L is left empty and marked `unknown_basis`, never guessed.
  A sell's P&L is split among strategies by the sell's attribution, like its value.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from the_alchemiser.notifications_v2.formatting import plain_decimal
from the_alchemiser.shared.ledger import LedgerOrder

UNATTRIBUTED = "UNATTRIBUTED"
VALUE_QUANTUM = Decimal("0.000001")
QTY_QUANTUM = Decimal("0.000000001")
# below this a position is flat: fractional shares carry at most 9 places
FLAT_QTY = Decimal("0.000000001")

REPORT_COLUMNS = (
    "trading_date",
    "correlation_id",
    "strategy",
    "symbol",
    "side",
    "strategy_share",
    "filled_qty",
    "avg_fill_price",
    "buy_value",
    "sell_value",
    "cost_basis",
    "realised_pnl",
    "pnl_basis",
    "status",
    "order_type",
    "step",
    "client_order_id",
    "broker_order_id",
    "placed_at",
    "updated_at",
)

PNL_AVERAGE_COST = "average_cost"
PNL_UNKNOWN_BASIS = "unknown_basis"


@dataclass(frozen=True)
class SellBasis:
    """What one sell realised against the average cost of the position before it."""

    cost_basis: Decimal | None
    realised_pnl: Decimal | None

    @property
    def known(self) -> bool:
        return self.realised_pnl is not None


@dataclass(frozen=True)
class ReportRow:
    trading_date: date
    correlation_id: str
    strategy: str
    symbol: str
    side: str
    strategy_share: Decimal
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    buy_value: Decimal
    sell_value: Decimal
    cost_basis: Decimal | None
    realised_pnl: Decimal | None
    pnl_basis: str
    status: str
    order_type: str
    step: int
    client_order_id: str
    broker_order_id: str | None
    placed_at: str
    updated_at: str

    def csv_values(self) -> list[str]:
        def opt(value: Decimal | None) -> str:
            return "" if value is None else plain_decimal(value)

        return [
            self.trading_date.isoformat(),
            self.correlation_id,
            self.strategy,
            self.symbol,
            self.side,
            plain_decimal(self.strategy_share),
            plain_decimal(self.filled_qty),
            opt(self.avg_fill_price),
            plain_decimal(self.buy_value),
            plain_decimal(self.sell_value),
            opt(self.cost_basis),
            opt(self.realised_pnl),
            self.pnl_basis,
            self.status,
            self.order_type,
            str(self.step),
            self.client_order_id,
            self.broker_order_id or "",
            self.placed_at,
            self.updated_at,
        ]


@dataclass(frozen=True)
class StrategyTotals:
    strategy: str
    trades: int
    buy_value: Decimal
    sell_value: Decimal
    realised_pnl: Decimal
    unknown_basis_sells: int
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class PerformanceReport:
    correlation_id: str
    trading_date: date
    rows: tuple[ReportRow, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total_buy_value(self) -> Decimal:
        return sum((row.buy_value for row in self.rows), Decimal(0))

    @property
    def total_sell_value(self) -> Decimal:
        return sum((row.sell_value for row in self.rows), Decimal(0))

    @property
    def total_realised_pnl(self) -> Decimal:
        """Over sells with a known basis; `unknown_basis_sells` counts the rest."""
        return sum((row.realised_pnl for row in self.rows if row.realised_pnl is not None), Decimal(0))

    @property
    def unknown_basis_sells(self) -> int:
        return len({row.client_order_id for row in self.rows if row.pnl_basis == PNL_UNKNOWN_BASIS})

    def by_strategy(self) -> list[StrategyTotals]:
        strategies = sorted({row.strategy for row in self.rows})
        totals = []
        for strategy in strategies:
            rows = [row for row in self.rows if row.strategy == strategy]
            totals.append(
                StrategyTotals(
                    strategy=strategy,
                    trades=len(rows),
                    buy_value=sum((r.buy_value for r in rows), Decimal(0)),
                    sell_value=sum((r.sell_value for r in rows), Decimal(0)),
                    realised_pnl=sum((r.realised_pnl for r in rows if r.realised_pnl is not None), Decimal(0)),
                    unknown_basis_sells=sum(1 for r in rows if r.pnl_basis == PNL_UNKNOWN_BASIS),
                    symbols=tuple(sorted({r.symbol for r in rows})),
                )
            )
        return totals

    def to_csv(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        for row in self.rows:
            writer.writerow(row.csv_values())
        return buffer.getvalue().encode()


def report_key(trading_date: date, correlation_id: str) -> str:
    """Deterministic S3 key: the same workflow always writes (and overwrites) the same object."""
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", correlation_id)
    return f"reports/{trading_date.isoformat()}/{safe_id}.csv"


def _is_filled(order: LedgerOrder) -> bool:
    return order.filled_qty > 0


def _placement_order(order: LedgerOrder) -> tuple[object, ...]:
    return (order.placed_at, order.step, order.client_order_id)


def realised_by_sell(history: Iterable[LedgerOrder]) -> dict[str, SellBasis]:
    """client_order_id -> basis and P&L of each filled sell, by average cost over `history` (one symbol)."""
    held_qty = Decimal(0)
    held_cost = Decimal(0)
    result: dict[str, SellBasis] = {}
    for order in sorted((o for o in history if _is_filled(o)), key=_placement_order):
        fill_price = order.avg_fill_price
        if order.side.lower() == "buy":
            held_qty += order.filled_qty
            held_cost += order.filled_qty * (fill_price or Decimal(0))
            continue
        if fill_price is None or order.filled_qty > held_qty + FLAT_QTY:
            # sold more than the ledger shows held: the basis of the difference is unknown
            result[order.client_order_id] = SellBasis(cost_basis=None, realised_pnl=None)
            held_qty = max(held_qty - order.filled_qty, Decimal(0))
            held_cost = Decimal(0) if held_qty <= FLAT_QTY else held_cost
            continue
        sold_qty = min(order.filled_qty, held_qty)
        # rounded once, here: every later sum (per strategy, per report) is then exact
        basis = (held_cost * sold_qty / held_qty).quantize(VALUE_QUANTUM, rounding=ROUND_HALF_EVEN)
        result[order.client_order_id] = SellBasis(cost_basis=basis, realised_pnl=order.filled_value - basis)
        held_qty -= sold_qty
        held_cost -= basis
        if held_qty <= FLAT_QTY:
            held_qty = Decimal(0)
            held_cost = Decimal(0)
    return result


def _shares(attribution: Mapping[str, Decimal]) -> list[tuple[str, Decimal]]:
    positive = {name: share for name, share in attribution.items() if share > 0}
    total = sum(positive.values(), Decimal(0))
    if total <= 0:
        return [(UNATTRIBUTED, Decimal(1))]
    return [(name, positive[name] / total) for name in sorted(positive)]


def split_exact(amount: Decimal, shares: Sequence[Decimal], quantum: Decimal) -> list[Decimal]:
    """`amount` split by `shares`: each part rounded to `quantum` but the last, which takes the rest."""
    parts = [(amount * share).quantize(quantum, rounding=ROUND_HALF_EVEN) for share in shares[:-1]]
    parts.append(amount - sum(parts, Decimal(0)))
    return parts


def build_performance_report(
    correlation_id: str,
    trading_date: date,
    orders: Sequence[LedgerOrder],
    history_by_symbol: Mapping[str, Sequence[LedgerOrder]],
) -> PerformanceReport:
    """Rows for the workflow's filled orders; `history_by_symbol` is the ledger per symbol for P&L."""
    notes: list[str] = []
    filled = sorted((o for o in orders if _is_filled(o)), key=_placement_order)
    bases: dict[str, SellBasis] = {}
    for symbol in sorted({o.symbol for o in filled if o.side.lower() == "sell"}):
        # the workflow's own orders join the history: a GSI read may not show them yet
        merged = {o.client_order_id: o for o in history_by_symbol.get(symbol, ())}
        merged.update({o.client_order_id: o for o in orders if o.symbol == symbol})
        bases.update(realised_by_sell(merged.values()))
    rows: list[ReportRow] = []
    for order in filled:
        is_buy = order.side.lower() == "buy"
        if order.avg_fill_price is None:
            notes.append(f"{order.client_order_id}: filled {order.filled_qty} with no average price; value 0")
        shares = _shares(order.strategy_attribution)
        share_values = [share for _, share in shares]
        qty_parts = split_exact(order.filled_qty, share_values, QTY_QUANTUM)
        value_parts = split_exact(order.filled_value, share_values, VALUE_QUANTUM)
        basis = None if is_buy else bases.get(order.client_order_id)
        basis_parts: list[Decimal | None] = [None] * len(shares)
        pnl_parts: list[Decimal | None] = [None] * len(shares)
        if basis is not None and basis.cost_basis is not None and basis.realised_pnl is not None:
            basis_split = split_exact(basis.cost_basis, share_values, VALUE_QUANTUM)
            basis_parts = list(basis_split)
            # value - basis per row: each row's P&L matches its own columns, and they sum to the order's
            pnl_parts = [value - cost for value, cost in zip(value_parts, basis_split, strict=True)]
        pnl_label = "" if is_buy else (PNL_AVERAGE_COST if basis is not None and basis.known else PNL_UNKNOWN_BASIS)
        for index, (strategy, share) in enumerate(shares):
            rows.append(
                ReportRow(
                    trading_date=order.trading_date,
                    correlation_id=order.correlation_id,
                    strategy=strategy,
                    symbol=order.symbol,
                    side=order.side.lower(),
                    strategy_share=share,
                    filled_qty=qty_parts[index],
                    avg_fill_price=order.avg_fill_price,
                    buy_value=value_parts[index] if is_buy else Decimal(0),
                    sell_value=Decimal(0) if is_buy else value_parts[index],
                    cost_basis=basis_parts[index],
                    realised_pnl=pnl_parts[index],
                    pnl_basis=pnl_label,
                    status=order.status,
                    order_type=order.order_type,
                    step=order.step,
                    client_order_id=order.client_order_id,
                    broker_order_id=order.broker_order_id,
                    placed_at=order.placed_at.isoformat(),
                    updated_at=order.updated_at.isoformat(),
                )
            )
    return PerformanceReport(
        correlation_id=correlation_id, trading_date=trading_date, rows=tuple(rows), notes=tuple(notes)
    )
