"""Working one order through the book: midpoint first, then toward the far touch, market last.

Each step places a DAY order under a deterministic client_order_id (looked up first, so a redelivered
message resumes an existing order instead of placing another), waits a short while, then cancels and
counts what filled (`filled_qty` is cumulative per order). The remainder goes to the next step.

Prices: a buy is never limited above the ask, a sell never below the bid. Quotes that are not usable
for a midpoint (zero, one-sided or crossed) skip the limit steps that need one: with only the far
touch known (the ask for a buy, the bid for a sell) one limit step rests at it; with neither, the walk
goes to the market step, which the walk always ends with anyway (a halted or non-tradable symbol never
gets here: the service skips it before any order)."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Protocol

from the_alchemiser.execution_v2.clock import WaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.order_ids import client_order_id
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.broker.errors import (
    DuplicateClientOrderIdError,
    NotFoundError,
    OrderNotCancelableError,
    OrderRejectedError,
)
from the_alchemiser.shared.broker.models import (
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Quote,
    TimeInForce,
)
from the_alchemiser.shared.logging import get_logger

_log = get_logger("execution_v2.book_walk")

FRACTIONAL_QTY_STEP = Decimal("0.000000001")  # Alpaca accepts 9 decimal places
CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")


class WalkAborted(RuntimeError):
    """Another worker of the plan crashed: stop where we are (orders stay as they are, as in a crash)."""


class MarketClosedError(RuntimeError):
    """The broker's clock says the market is closed: no order may be placed (checked before each one)."""


class OrderStuckError(RuntimeError):
    """An order did not become terminal after a cancel: the message is retried and resumes waiting."""


def quantize_qty(qty: Decimal, fractionable: bool) -> Decimal:
    step = FRACTIONAL_QTY_STEP if fractionable else Decimal(1)
    return max(Decimal(0), qty.quantize(step, rounding=ROUND_DOWN))


def _tick(price: Decimal) -> Decimal:
    return CENT if price >= 1 else SUB_DOLLAR_TICK


def step_limit_price(quote: Quote | None, side: OrderSide, fraction: Decimal, *, last_limit: bool) -> Decimal | None:
    """The limit price for a step `fraction` of the way from the midpoint to the far touch, or None
    when the quote cannot support this step. Rounded to a valid tick on the passive side, and clamped
    inside [bid, ask]: never a buy above the ask, never a sell below the bid."""
    if quote is None:
        return None
    far = quote.ask if side == OrderSide.BUY else quote.bid
    if not quote.two_sided:
        # no midpoint: only the last limit step, resting at the far touch when that is known
        if last_limit and far > 0 and not (quote.bid > 0 and quote.ask > 0):
            return far
        return None
    mid = (quote.bid + quote.ask) / 2
    if side == OrderSide.BUY:
        raw = mid + fraction * (quote.ask - mid)
        price = raw.quantize(_tick(raw), rounding=ROUND_FLOOR)
        return min(max(price, quote.bid), quote.ask)
    raw = mid - fraction * (mid - quote.bid)
    price = raw.quantize(_tick(raw), rounding=ROUND_CEILING)
    return max(min(price, quote.ask), quote.bid)


@dataclass(frozen=True)
class WalkRequest:
    correlation_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    fractionable: bool
    # steps a previous delivery passed over without an order (plan state): pass over them again, so a
    # changed quote cannot add an order an uninterrupted run would not have placed
    skipped_steps: frozenset[int] = frozenset()
    resume_below_step: int = 0  # steps below this were started by a previous delivery


class WalkListener(Protocol):
    def before_placement(self, step: int, client_order_id: str, request: OrderRequest, quote: Quote | None) -> None:
        """Persist the intent (plan state, ledger) before the broker sees the order."""
        ...

    def order_placed(self, step: int, order: Order) -> None: ...

    def order_settled(self, step: int, order: Order) -> None:
        """The step's order is terminal (or resumed and already terminal)."""
        ...

    def step_skipped(self, step: int, reason: str) -> None: ...


@dataclass
class WalkResult:
    orders: list[Order] = field(default_factory=list)  # final view of each step's order
    first_quote: Quote | None = None
    error: str | None = None

    @property
    def filled_qty(self) -> Decimal:
        return sum((o.filled_qty for o in self.orders), Decimal(0))

    @property
    def filled_value(self) -> Decimal:
        return sum(
            (o.filled_qty * o.filled_avg_price for o in self.orders if o.filled_avg_price is not None), Decimal(0)
        )

    @property
    def avg_fill_price(self) -> Decimal | None:
        qty = self.filled_qty
        return self.filled_value / qty if qty > 0 else None


class BookWalker:
    """Walks one order at a time; one instance is shared by the phase's worker threads."""

    def __init__(
        self,
        broker: BrokerPort,
        clock: WaitClock,
        config: ExecutionConfig,
        abort: threading.Event | None = None,
    ) -> None:
        self._broker = broker
        self._clock = clock
        self._config = config
        self._abort = abort or threading.Event()

    def walk(self, request: WalkRequest, listener: WalkListener) -> WalkResult:
        """Work the item to its target. What counts as done is the broker's view of every client order id
        the plan has for this item (all steps, placed by this delivery or any other): before a placement
        the ids not yet settled in this walk are looked up, any still working are worked to an end (waited
        for, then cancelled), and only the target minus everything filled is placed. A delivery that passed
        over a step therefore never adds to an order another delivery placed under that step's id."""
        result = WalkResult()
        config = self._config
        settled: dict[str, Order] = {}  # client order id -> terminal view: this item's orders counted so far
        ids = [
            client_order_id(request.correlation_id, request.symbol, request.side.value, s)
            for s in range(config.total_steps)
        ]
        for step in range(config.total_steps):
            self._check_abort()
            remaining = quantize_qty(request.qty - _filled(settled), request.fractionable)
            if remaining <= 0:
                break
            coid = ids[step]
            if coid in settled:
                continue
            if step in request.skipped_steps and step < request.resume_below_step:
                continue
            existing = self._broker.get_order_by_client_id(coid)
            if existing is not None:
                _log.info(
                    "order_resumed", symbol=request.symbol, step=step, client_order_id=coid, status=existing.status
                )
                order = existing
            else:
                self._settle_others(ids, step, settled, listener)
                remaining = quantize_qty(request.qty - _filled(settled), request.fractionable)
                if remaining <= 0:
                    break
                placed = self._place_step(
                    request, step=step, coid=coid, remaining=remaining, listener=listener, result=result
                )
                if placed is None:
                    if result.error is not None:
                        break
                    continue
                order = placed
            order = self._work_to_terminal(order, market=step == config.market_step)
            listener.order_settled(step, order)
            settled[coid] = order
            if order.status == OrderStatus.REJECTED:
                result.error = f"{request.symbol}: step {step} order rejected by the broker"
                break
        result.orders = [settled[i] for i in ids if i in settled]
        return result

    def _settle_others(self, ids: list[str], step: int, settled: dict[str, Order], listener: WalkListener) -> None:
        """Look up the item's other ids not settled yet; count each order found once it is terminal."""
        for other, coid in enumerate(ids):
            if other == step or coid in settled:
                continue
            self._check_abort()
            found = self._broker.get_order_by_client_id(coid)
            if found is None:
                continue
            _log.warning(
                "order_of_another_delivery_found",
                symbol=found.symbol,
                step=other,
                client_order_id=coid,
                status=found.status,
                filled_qty=str(found.filled_qty),
            )
            order = self._work_to_terminal(found, market=other == self._config.market_step)
            listener.order_settled(other, order)
            settled[coid] = order

    def _place_step(
        self,
        request: WalkRequest,
        *,
        step: int,
        coid: str,
        remaining: Decimal,
        listener: WalkListener,
        result: WalkResult,
    ) -> Order | None:
        config = self._config
        quote = self._broker.get_latest_quotes([request.symbol]).get(request.symbol)
        if result.first_quote is None:
            result.first_quote = quote
        qty = remaining
        if step == config.market_step:
            order_request = OrderRequest(
                symbol=request.symbol,
                side=request.side,
                type=OrderType.MARKET,
                time_in_force=TimeInForce.DAY,
                qty=qty,
                client_order_id=coid,
            )
            if request.side == OrderSide.SELL:
                # the position is the limit of what can be sold ("insufficient qty" otherwise)
                position = self._broker.get_position(request.symbol)
                held = position.qty if position is not None else Decimal(0)
                qty = quantize_qty(min(qty, held), request.fractionable)
                if qty <= 0:
                    listener.step_skipped(step, "nothing left in the position to sell")
                    return None
                order_request = order_request.model_copy(update={"qty": qty})
        else:
            fraction = config.limit_step_fractions[step]
            price = step_limit_price(quote, request.side, fraction, last_limit=step == config.market_step - 1)
            if price is None:
                listener.step_skipped(step, f"no usable quote for a limit step ({_describe(quote)})")
                return None
            order_request = OrderRequest(
                symbol=request.symbol,
                side=request.side,
                type=OrderType.LIMIT,
                time_in_force=TimeInForce.DAY,
                qty=qty,
                limit_price=price,
                client_order_id=coid,
            )
        clock = self._broker.get_clock()  # before each placement: a walk that began at 15:59 stops at 16:00
        if not clock.is_open:
            raise MarketClosedError(
                f"market closed (at {clock.timestamp.isoformat()}; next open {clock.next_open.isoformat()})"
            )
        listener.before_placement(step, coid, order_request, quote)
        try:
            order = self._broker.place_order(order_request)
        except DuplicateClientOrderIdError:
            # another delivery placed it between our look-up and now: work that one
            found = self._broker.get_order_by_client_id(coid)
            if found is None:
                raise
            return found
        except OrderRejectedError as exc:
            result.error = f"{request.symbol}: step {step} rejected: {exc}"
            _log.warning("order_rejected", symbol=request.symbol, step=step, client_order_id=coid, error=str(exc))
            return None
        _log.info(
            "order_placed",
            symbol=request.symbol,
            side=request.side.value,
            step=step,
            client_order_id=coid,
            qty=str(order_request.qty),
            limit_price=str(order_request.limit_price) if order_request.limit_price is not None else None,
        )
        listener.order_placed(step, order)
        return order

    def _work_to_terminal(self, order: Order, *, market: bool) -> Order:
        config = self._config
        wait = config.market_wait_seconds if market else config.step_wait_seconds
        order = self._wait_terminal(order, wait)
        if order.is_terminal:
            return order
        # it may fill (or finish) while we cancel: the re-read below counts whatever filled
        with contextlib.suppress(OrderNotCancelableError, NotFoundError):
            self._broker.cancel_order(order.id)
        order = self._broker.get_order(order.id)
        order = self._wait_terminal(order, config.cancel_wait_seconds)
        if not order.is_terminal:
            raise OrderStuckError(f"order {order.client_order_id} is still {order.status} after cancel")
        return order

    def _wait_terminal(self, order: Order, seconds: float) -> Order:
        deadline = self._clock.monotonic() + seconds
        while not order.is_terminal:
            self._check_abort()
            left = deadline - self._clock.monotonic()
            if left <= 0:
                break
            self._clock.sleep(min(self._config.poll_interval_seconds, left))
            order = self._broker.get_order(order.id)
        return order

    def _check_abort(self) -> None:
        if self._abort.is_set():
            raise WalkAborted("the plan's execution was aborted")


def _filled(orders: dict[str, Order]) -> Decimal:
    return sum((o.filled_qty for o in orders.values()), Decimal(0))


def _describe(quote: Quote | None) -> str:
    if quote is None:
        return "no quote"
    return f"bid {quote.bid}, ask {quote.ask}"
