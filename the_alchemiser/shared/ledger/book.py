"""Per-strategy lots: which owner holds which shares of the account, at what cost, and what each sale realised.

`book_plan` is the one mechanism. Execution calls it (through the ledger adapter) once a plan is done;
each symbol of the plan is booked in four steps:

1. Reconcile. The owners' lots must add up to the broker's position when the plan was made
   (`current_qty`). Shares the book does not know are opened as EXTERNAL lots at the plan's price ("first
   seen": held before the system started, or bought by hand); shares the book has and the broker does
   not were sold outside the system and are relieved (EXTERNAL first) at that price.
2. Wanted quantities. A strategy wants its share of the item's target (`strategy_attribution` x
   `target_value` / price) after the EXTERNAL shares, which the system keeps while the symbol is targeted
   (the planner counts them toward the target). A strategy holding a symbol it no longer targets wants 0,
   so its lots are the ones an exit relieves; nobody wants an untargeted symbol, EXTERNAL included.
3. Allocation. A buy fill goes to the owners short of what they want, pro rata to the shortfall; a sell
   fill relieves the owners above it, pro rata to the excess. Where one strategy's target fell and
   another's rose on the same symbol, the shares pass between them at the fill's average price (the
   plan's price when nothing filled): an internal transfer, no order, P&L-neutral for the account.
4. Lots. An acquisition opens one lot per owner (quantity, cost); a relief takes lots first in, first
   out and realises its proceeds minus the cost it relieved.

Quantities are exact to 1e-9 shares (Alpaca's fractional precision) and values to 1e-9 dollars; every
split hands out its remainder by largest remainder, so the owners' movements add up to the fill exactly
and the owners' lots to the broker's position. The sum over owners of realised plus unrealised P&L is
then the account's change (cash plus positions at the marks, fees aside)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from pydantic import Field

from the_alchemiser.shared.schemas.base import WireModel
from the_alchemiser.shared.schemas.execution import ExecutionResult
from the_alchemiser.shared.schemas.rebalance import RebalancePlan, RebalancePlanItem
from the_alchemiser.shared.types import Money

EXTERNAL = "external"  # the owner of shares the system never bought
QTY_QUANTUM = Decimal("0.000000001")
VALUE_QUANTUM = Decimal("0.000000001")
MIN_TRANSFER_VALUE = Decimal("0.01")  # below a cent, a transfer between owners is rounding, not a change of owner
_ZERO = Decimal(0)


class MovementKind(StrEnum):
    BUY = "buy"  # bought in the market
    SELL = "sell"  # sold in the market
    TRANSFER_IN = "transfer_in"  # from another owner whose target fell
    TRANSFER_OUT = "transfer_out"  # to another owner whose target rose
    FIRST_SEEN = "first_seen"  # at the broker, unknown to the book: EXTERNAL
    SOLD_OUTSIDE = "sold_outside"  # in the book, gone at the broker

    @property
    def acquires(self) -> bool:
        return self in (MovementKind.BUY, MovementKind.TRANSFER_IN, MovementKind.FIRST_SEEN)


class Lot(WireModel):
    qty: Money
    cost: Money
    opened_on: date
    correlation_id: str
    kind: MovementKind

    @property
    def price(self) -> Decimal:
        return self.cost / self.qty


class Holding(WireModel):
    """One owner's shares of one symbol: open lots, oldest first, and what its sales realised so far."""

    lots: tuple[Lot, ...] = ()
    realised: Money = _ZERO

    @property
    def qty(self) -> Decimal:
        return sum((lot.qty for lot in self.lots), _ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((lot.cost for lot in self.lots), _ZERO)


class BookingRef(WireModel):
    correlation_id: str
    trading_date: date
    equity: Money


class Book(WireModel):
    """Every owner's holdings (owner -> symbol -> holding), the last marks, and the first and last booking."""

    holdings: dict[str, dict[str, Holding]] = Field(default_factory=dict)
    marks: dict[str, Money] = Field(default_factory=dict, description="symbol -> the last booking's price")
    first: BookingRef | None = None  # equity before the first booked plan
    last: BookingRef | None = None  # equity after the last booked plan
    history: tuple[BookingRef, ...] = Field(
        default=(), description="equity after each booked plan, oldest first (the daily report's equity curve)"
    )

    def holding(self, owner: str, symbol: str) -> Holding:
        return self.holdings.get(owner, {}).get(symbol, Holding())

    def owners(self) -> list[str]:
        return owner_order(self.holdings)

    def qty(self, symbol: str) -> Decimal:
        return sum((self.holding(owner, symbol).qty for owner in self.holdings), _ZERO)


class Movement(WireModel):
    owner: str
    symbol: str
    kind: MovementKind
    qty: Money
    value: Money = Field(description="cost of an acquisition, proceeds of a relief")
    cost_basis: Money | None = Field(default=None, description="the lots' cost a relief took (first in, first out)")
    realised: Money | None = None
    client_order_ids: tuple[str, ...] = ()

    @property
    def price(self) -> Decimal:
        return self.value / self.qty


class SkippedLeg(WireModel):
    symbol: str
    trade_value: Money  # signed: positive a buy not made
    reason: str


class AccountLine(WireModel):
    """The account around this plan, at the plan's prices (fees aside)."""

    equity_before: Money  # the broker's, when the plan was made
    cash_before: Money
    cash_after: Money  # cash before, less what was bought, plus what was sold
    equity_after: Money  # cash after plus every position at the marks
    previous_equity: Money | None = None  # equity after the last booked plan
    first_equity: Money  # equity before the first booked plan
    first_trading_date: date

    @property
    def day_pnl(self) -> Decimal | None:
        return None if self.previous_equity is None else self.equity_after - self.previous_equity

    @property
    def pnl_since_first(self) -> Decimal:
        return self.equity_after - self.first_equity


class Booking(WireModel):
    """What one plan did to the book: every owner's movements, the marks, the account, the skipped legs."""

    correlation_id: str
    plan_id: str
    trading_date: date
    booked_at: datetime
    movements: tuple[Movement, ...]
    marks: dict[str, Money]
    account: AccountLine
    skipped: tuple[SkippedLeg, ...] = ()
    notes: tuple[str, ...] = ()
    plan: RebalancePlan | None = None  # the plan booked (None in bookings made before it was recorded)

    def realised_by_owner(self) -> dict[str, Decimal]:
        realised: dict[str, Decimal] = {}
        for movement in self.movements:
            if movement.realised is not None:
                realised[movement.owner] = realised.get(movement.owner, _ZERO) + movement.realised
        return realised


@dataclass(frozen=True)
class Fill:
    """What one plan item filled: the total of its walk's orders."""

    symbol: str
    side: str  # buy / sell
    qty: Decimal
    value: Decimal
    client_order_ids: tuple[str, ...] = ()


def fills_of(result: ExecutionResult) -> dict[str, Fill]:
    """symbol -> fill, for every order result that filled something."""
    return {
        order.symbol: Fill(
            symbol=order.symbol,
            side=order.side.lower(),
            qty=order.filled_qty,
            value=order.filled_value,
            client_order_ids=tuple(order.client_order_ids),
        )
        for order in result.orders
        if order.filled_qty > 0
    }


def owner_order(owners: Iterable[str]) -> list[str]:
    """Strategies by name, EXTERNAL last."""
    return sorted(set(owners), key=lambda owner: (owner == EXTERNAL, owner))


def split(total: Decimal, weights: Mapping[str, Decimal], quantum: Decimal) -> dict[str, Decimal]:
    """`total` (>= 0) pro rata to the positive `weights`, in multiples of `quantum` by largest remainder
    (ties by name); any part of `total` finer than `quantum` goes to the largest part. Sums to `total`."""
    positive = {key: weight for key, weight in sorted(weights.items()) if weight > 0}
    if total <= 0 or not positive:
        return {}
    whole = sum(positive.values(), _ZERO)
    exact = {key: total * weight / whole for key, weight in positive.items()}
    parts = {key: (value / quantum).to_integral_value(ROUND_FLOOR) * quantum for key, value in exact.items()}
    by_remainder = sorted(positive, key=lambda key: (-(exact[key] - parts[key]), key))
    ticks = int((total - sum(parts.values(), _ZERO)) // quantum)
    for key in by_remainder[:ticks]:
        parts[key] += quantum
    parts[max(parts, key=lambda key: (parts[key], key))] += total - sum(parts.values(), _ZERO)
    return {key: part for key, part in parts.items() if part != 0}


class _Ledger:
    """The book while one plan is booked: mutable holdings and the movements made."""

    def __init__(self, book: Book, correlation_id: str, trading_date: date) -> None:
        self.lots: dict[tuple[str, str], list[Lot]] = {}
        self.realised: dict[tuple[str, str], Decimal] = {}
        for owner, symbols in book.holdings.items():
            for symbol, holding in symbols.items():
                self.lots[(owner, symbol)] = list(holding.lots)
                self.realised[(owner, symbol)] = holding.realised
        self.correlation_id = correlation_id
        self.trading_date = trading_date
        self.movements: list[Movement] = []

    def qty(self, owner: str, symbol: str) -> Decimal:
        return sum((lot.qty for lot in self.lots.get((owner, symbol), [])), _ZERO)

    def owners_of(self, symbol: str) -> list[str]:
        return owner_order(owner for (owner, held), lots in self.lots.items() if held == symbol and lots)

    def acquire(
        self, owner: str, symbol: str, kind: MovementKind, qty: Decimal, value: Decimal, *, ids: tuple[str, ...] = ()
    ) -> None:
        if qty <= 0:
            return
        lot = Lot(qty=qty, cost=value, opened_on=self.trading_date, correlation_id=self.correlation_id, kind=kind)
        self.lots.setdefault((owner, symbol), []).append(lot)
        self.realised.setdefault((owner, symbol), _ZERO)
        self.movements.append(
            Movement(owner=owner, symbol=symbol, kind=kind, qty=qty, value=value, client_order_ids=ids)
        )

    def relieve(
        self, owner: str, symbol: str, kind: MovementKind, qty: Decimal, value: Decimal, *, ids: tuple[str, ...] = ()
    ) -> None:
        """Take `qty` from the owner's lots, first in first out, for `value` of proceeds."""
        if qty <= 0:
            return
        lots = self.lots.get((owner, symbol), [])
        held = sum((lot.qty for lot in lots), _ZERO)
        if qty > held:
            raise ValueError(f"{owner} holds {held} {symbol}, cannot relieve {qty}")
        remaining, basis = qty, _ZERO
        while remaining > 0:
            lot = lots[0]
            if lot.qty <= remaining:
                basis += lot.cost
                remaining -= lot.qty
                lots.pop(0)
            else:
                taken = (lot.cost * remaining / lot.qty).quantize(VALUE_QUANTUM, rounding=ROUND_HALF_EVEN)
                lots[0] = lot.model_copy(update={"qty": lot.qty - remaining, "cost": lot.cost - taken})
                basis += taken
                remaining = _ZERO
        realised = value - basis
        self.realised[(owner, symbol)] = self.realised.get((owner, symbol), _ZERO) + realised
        self.movements.append(
            Movement(
                owner=owner,
                symbol=symbol,
                kind=kind,
                qty=qty,
                value=value,
                cost_basis=basis,
                realised=realised,
                client_order_ids=ids,
            )
        )

    def to_book(
        self, marks: dict[str, Decimal], first: BookingRef | None, last: BookingRef, history: tuple[BookingRef, ...]
    ) -> Book:
        holdings: dict[str, dict[str, Holding]] = {}
        for (owner, symbol), lots in sorted(self.lots.items()):
            holdings.setdefault(owner, {})[symbol] = Holding(lots=tuple(lots), realised=self.realised[(owner, symbol)])
        for (owner, symbol), realised in sorted(self.realised.items()):
            holdings.setdefault(owner, {}).setdefault(symbol, Holding(realised=realised))
        return Book(holdings=holdings, marks=marks, first=first, last=last, history=history)


def _floor_qty(value: Decimal) -> Decimal:
    return max(_ZERO, (value / QTY_QUANTUM).to_integral_value(ROUND_FLOOR) * QTY_QUANTUM)


def _wanted(ledger: _Ledger, item: RebalancePlanItem, holders: list[str]) -> dict[str, Decimal]:
    """owner -> the quantity it wants after this plan (step 2)."""
    external = ledger.qty(EXTERNAL, item.symbol)
    wanted = {owner: _ZERO for owner in holders}
    if item.target_value <= 0 or item.price <= 0:
        return wanted
    wanted[EXTERNAL] = external
    pool = max(_ZERO, item.target_value / item.price - external)
    shares = {s: share for s, share in item.strategy_attribution.items() if share > 0 and s != EXTERNAL}
    total = sum(shares.values(), _ZERO)
    for strategy, share in shares.items():
        wanted[strategy] = _floor_qty(pool * share / total)
    return wanted


def _reconcile(ledger: _Ledger, symbol: str, broker_qty: Decimal, price: Decimal, notes: list[str]) -> None:
    """Step 1: the owners' lots add up to what the broker held when the plan was made."""
    known = sum((ledger.qty(owner, symbol) for owner in ledger.owners_of(symbol)), _ZERO)
    if broker_qty > known:
        extra = broker_qty - known
        ledger.acquire(EXTERNAL, symbol, MovementKind.FIRST_SEEN, extra, (extra * price).quantize(VALUE_QUANTUM))
        notes.append(f"{symbol}: {extra} shares at the broker that the system did not buy are booked as {EXTERNAL}")
    elif broker_qty < known:
        missing = known - broker_qty
        notes.append(f"{symbol}: {missing} shares in the book are gone at the broker (sold outside the system)")
        from_external = min(missing, ledger.qty(EXTERNAL, symbol))
        _relieve_at(ledger, symbol, {EXTERNAL: from_external}, price, MovementKind.SOLD_OUTSIDE)
        rest = missing - from_external
        holders = {owner: ledger.qty(owner, symbol) for owner in ledger.owners_of(symbol)}
        _relieve_at(ledger, symbol, split(rest, holders, QTY_QUANTUM), price, MovementKind.SOLD_OUTSIDE)


def _relieve_at(
    ledger: _Ledger, symbol: str, quantities: Mapping[str, Decimal], price: Decimal, kind: MovementKind
) -> None:
    for owner, qty in quantities.items():
        ledger.relieve(owner, symbol, kind, qty, (qty * price).quantize(VALUE_QUANTUM))


def _book_symbol(ledger: _Ledger, item: RebalancePlanItem, fill: Fill | None, notes: list[str]) -> None:
    symbol = item.symbol
    _reconcile(ledger, symbol, item.current_qty, item.price, notes)
    holders = ledger.owners_of(symbol)
    wanted = _wanted(ledger, item, holders)
    held = {owner: ledger.qty(owner, symbol) for owner in set(holders) | set(wanted)}
    excess = {owner: held[owner] - wanted.get(owner, _ZERO) for owner in held if held[owner] > wanted.get(owner, _ZERO)}
    short = {owner: wanted[owner] - held[owner] for owner in wanted if wanted[owner] > held[owner]}
    total_excess = sum(excess.values(), _ZERO)
    total_short = sum(short.values(), _ZERO)
    market: dict[str, Decimal] = {}
    ids: tuple[str, ...] = ()
    if fill is not None and fill.side == "buy":
        ids = fill.client_order_ids
        market = split(min(fill.qty, total_short), short, QTY_QUANTUM)
        extra = fill.qty - min(fill.qty, total_short)
        if extra > 0:  # more than anyone was short of (rounding, EXTERNAL counted): by target share
            shares = {s: v for s, v in item.strategy_attribution.items() if v > 0} or {EXTERNAL: Decimal(1)}
            for owner, qty in split(extra, shares, QTY_QUANTUM).items():
                market[owner] = market.get(owner, _ZERO) + qty
        receivers = {owner: short[owner] - market.get(owner, _ZERO) for owner in short}
        givers = excess
        transfer = min(total_excess, max(_ZERO, total_short - fill.qty))
    elif fill is not None:
        ids = fill.client_order_ids
        market = split(min(fill.qty, total_excess), excess, QTY_QUANTUM)
        extra = fill.qty - min(fill.qty, total_excess)
        if extra > 0:  # sold more than anyone had over target: from every owner, pro rata to what is left
            left = {owner: held[owner] - market.get(owner, _ZERO) for owner in held}
            for owner, qty in split(extra, left, QTY_QUANTUM).items():
                market[owner] = market.get(owner, _ZERO) + qty
        givers = {owner: excess[owner] - market.get(owner, _ZERO) for owner in excess}
        receivers = short
        transfer = min(total_short, max(_ZERO, total_excess - fill.qty))
    else:
        givers, receivers = excess, short
        transfer = min(total_excess, total_short)

    if fill is not None:
        kind = MovementKind.BUY if fill.side == "buy" else MovementKind.SELL
        values = split(fill.value, market, VALUE_QUANTUM) if fill.value > 0 else {}
        for owner in owner_order(market):
            value = values.get(owner, _ZERO)
            if kind.acquires:
                ledger.acquire(owner, symbol, kind, market[owner], value, ids=ids)
            else:
                ledger.relieve(owner, symbol, kind, market[owner], value, ids=ids)

    price = fill.value / fill.qty if fill is not None and fill.qty > 0 else item.price
    giving = sum(givers.values(), _ZERO)
    wanting = {owner: qty for owner, qty in wanted.items() if qty > 0 and owner != EXTERNAL}
    receivers = {owner: qty for owner, qty in receivers.items() if qty > 0} or wanting
    exits = bool(receivers) and any(wanted.get(owner, _ZERO) == 0 for owner, qty in givers.items() if qty > 0)
    if exits and 0 < (giving - transfer) * price < MIN_TRANSFER_VALUE:
        transfer = giving  # an owner leaving the symbol leaves no dust behind
    transfer_value = (transfer * price).quantize(VALUE_QUANTUM, rounding=ROUND_HALF_EVEN)
    if transfer <= 0 or (transfer_value < MIN_TRANSFER_VALUE and not (exits and transfer == giving)):
        return
    out_qty = split(transfer, givers, QTY_QUANTUM)
    in_qty = split(transfer, receivers, QTY_QUANTUM)
    out_value = split(transfer_value, out_qty, VALUE_QUANTUM)
    in_value = split(transfer_value, in_qty, VALUE_QUANTUM)
    for owner in owner_order(out_qty):
        ledger.relieve(owner, symbol, MovementKind.TRANSFER_OUT, out_qty[owner], out_value.get(owner, _ZERO))
    for owner in owner_order(in_qty):
        ledger.acquire(owner, symbol, MovementKind.TRANSFER_IN, in_qty[owner], in_value.get(owner, _ZERO))


def book_plan(
    book: Book, plan: RebalancePlan, fills: Mapping[str, Fill], *, booked_at: datetime
) -> tuple[Book, Booking]:
    """The book after `plan` executed with `fills` (symbol -> fill), and the booking that says how."""
    ledger = _Ledger(book, plan.correlation_id, plan.trading_date)
    notes: list[str] = []
    items = {item.symbol: item for item in plan.items}
    unknown = sorted(set(fills) - set(items))
    if unknown:
        raise ValueError(f"fills for symbols the plan does not have: {', '.join(unknown)}")
    for symbol in sorted(items):
        _book_symbol(ledger, items[symbol], fills.get(symbol), notes)
    marks = {**book.marks, **{symbol: item.price for symbol, item in items.items()}}
    for (owner, symbol), lots in sorted(ledger.lots.items()):
        if lots and symbol not in items:  # in the book, neither held at the broker nor targeted
            qty = sum((lot.qty for lot in lots), _ZERO)
            notes.append(f"{symbol}: {qty} shares of {owner} are gone at the broker (sold outside the system)")
            price = marks.get(symbol) or sum((lot.cost for lot in lots), _ZERO) / qty
            _relieve_at(ledger, symbol, {owner: qty}, price, MovementKind.SOLD_OUTSIDE)
    bought = sum((f.value for f in fills.values() if f.side == "buy"), _ZERO)
    sold = sum((f.value for f in fills.values() if f.side != "buy"), _ZERO)
    cash_after = plan.cash - bought + sold
    positions = sum(
        (sum((lot.qty for lot in lots), _ZERO) * marks.get(symbol, _ZERO) for (_, symbol), lots in ledger.lots.items()),
        _ZERO,
    )
    first = book.first or BookingRef(
        correlation_id=plan.correlation_id, trading_date=plan.trading_date, equity=plan.equity
    )
    account = AccountLine(
        equity_before=plan.equity,
        cash_before=plan.cash,
        cash_after=cash_after,
        equity_after=cash_after + positions,
        previous_equity=book.last.equity if book.last is not None else None,
        first_equity=first.equity,
        first_trading_date=first.trading_date,
    )
    last = BookingRef(correlation_id=plan.correlation_id, trading_date=plan.trading_date, equity=account.equity_after)
    booking = Booking(
        correlation_id=plan.correlation_id,
        plan_id=plan.plan_id,
        trading_date=plan.trading_date,
        booked_at=booked_at,
        movements=tuple(ledger.movements),
        marks={symbol: item.price for symbol, item in sorted(items.items())},
        account=account,
        skipped=tuple(
            SkippedLeg(symbol=item.symbol, trade_value=item.skipped_trade_value, reason=item.reason)
            for item in plan.items
            if item.skipped_trade_value is not None
        ),
        notes=tuple(notes),
        plan=plan,
    )
    # a book from before the history was kept starts it with the last booking it knows
    earlier = book.history or ((book.last,) if book.last is not None else ())
    return ledger.to_book(marks, first, last, (*earlier, last)), booking


@dataclass(frozen=True)
class PositionLine:
    owner: str
    symbol: str
    qty: Decimal
    lots: int
    cost: Decimal
    mark: Decimal | None
    realised: Decimal

    @property
    def market_value(self) -> Decimal | None:
        return None if self.mark is None else self.qty * self.mark

    @property
    def unrealised(self) -> Decimal | None:
        value = self.market_value
        return None if value is None else value - self.cost


@dataclass(frozen=True)
class OwnerPnl:
    owner: str
    positions: tuple[PositionLine, ...]  # open ones first, then closed ones that realised something

    @property
    def open_positions(self) -> tuple[PositionLine, ...]:
        return tuple(p for p in self.positions if p.qty > 0)

    @property
    def lots(self) -> int:
        return sum(p.lots for p in self.positions)

    @property
    def market_value(self) -> Decimal:
        return sum((p.market_value or _ZERO for p in self.positions), _ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((p.cost for p in self.positions), _ZERO)

    @property
    def unrealised(self) -> Decimal:
        return sum((p.unrealised or _ZERO for p in self.positions), _ZERO)

    @property
    def realised(self) -> Decimal:
        return sum((p.realised for p in self.positions), _ZERO)


def positions_view(book: Book, marks: Mapping[str, Decimal] | None = None) -> list[OwnerPnl]:
    """Per owner (strategies by name, EXTERNAL last): open lots, value at the marks (the book's last marks
    unless given), unrealised and realised P&L."""
    prices = {**book.marks, **(marks or {})}
    view = []
    for owner in book.owners():
        lines = [
            PositionLine(
                owner=owner,
                symbol=symbol,
                qty=holding.qty,
                lots=len(holding.lots),
                cost=holding.cost,
                mark=prices.get(symbol),
                realised=holding.realised,
            )
            for symbol, holding in sorted(book.holdings[owner].items())
            if holding.lots or holding.realised != 0
        ]
        if lines:
            lines.sort(key=lambda line: (line.qty <= 0, line.symbol))
            view.append(OwnerPnl(owner=owner, positions=tuple(lines)))
    return view
