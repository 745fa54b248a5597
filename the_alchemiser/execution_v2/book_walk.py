"""Working one order through the book: midpoint first, then toward the far touch, market last.

Each step places a DAY order, waits a short while, then cancels and counts what filled (`filled_qty` is
cumulative per order); the remainder goes to the next step. The item's n-th order has a deterministic
client_order_id (order_ids.py), looked up first, so a redelivered message resumes the orders already
placed instead of placing others, and two deliveries at once cannot both place the n-th order.

Prices: a buy is never limited above the ask, a sell never below the bid. Quotes that are not usable
for a midpoint (zero, one-sided or crossed) skip the limit steps that need one: with only the far
touch known (the ask for a buy, the bid for a sell) one limit step rests at it; with neither, the walk
goes to the market step, which the walk always ends with anyway (a halted or non-tradable symbol never
gets here: the service skips it before any order)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
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
    # the last step a previous delivery started (plan state): the steps below it were placed or passed
    # over, so a changed quote cannot add an order an uninterrupted run would not have placed
    resume_from_step: int = 0
    # client order id -> the step it was placed at, as the plan state recorded it (before sending)
    order_steps: Mapping[str, int] = field(default_factory=dict)


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
        """Work the item to its target. The item's orders are named by their place in its sequence (its
        first order, its second, ...), not by the step that priced them, and the next one is placed only
        once every earlier one is terminal, for the target minus everything they filled. Whatever delivery
        places an order, the broker's view of these ids is the item's progress; two deliveries that both
        want to place the n-th order send the same id, and the broker accepts only one (the other works
        that one): so even two owners at once never trade more than the target."""
        result = WalkResult()
        config = self._config
        settled: list[Order] = []
        ids = [
            client_order_id(request.correlation_id, request.symbol, request.side.value, n)
            for n in range(config.total_steps)
        ]
        step = request.resume_from_step
        while step < config.total_steps:
            self._check_abort()
            if quantize_qty(request.qty - _filled(settled), request.fractionable) <= 0:
                break
            step = max(step, self._consume(ids, settled, request, listener, result))
            remaining = quantize_qty(request.qty - _filled(settled), request.fractionable)
            if remaining <= 0 or result.error is not None or len(settled) >= len(ids) or step >= config.total_steps:
                break
            coid = ids[len(settled)]
            placed = self._place_step(
                request, step=step, coid=coid, remaining=remaining, listener=listener, result=result
            )
            if placed is None:
                if result.error is not None:
                    break
                step += 1
                continue
            self._settle(placed, step, settled, listener, result)
            step += 1
        result.orders = settled
        return result

    def _consume(
        self, ids: list[str], settled: list[Order], request: WalkRequest, listener: WalkListener, result: WalkResult
    ) -> int:
        """Settle every order already at the broker under the item's next ids (placed by an earlier
        delivery, or by another one just now); return the lowest step the next placement may use."""
        floor = 0
        while len(settled) < len(ids) and result.error is None:
            coid = ids[len(settled)]
            existing = self._broker.get_order_by_client_id(coid)
            if existing is None:
                break
            step = request.order_steps.get(coid, len(settled))  # never below its place in the sequence
            _log.info("order_resumed", symbol=request.symbol, step=step, client_order_id=coid, status=existing.status)
            self._settle(existing, step, settled, listener, result)
            floor = step + 1
        return floor

    def _settle(
        self, order: Order, step: int, settled: list[Order], listener: WalkListener, result: WalkResult
    ) -> None:
        order = self._work_to_terminal(order, market=order.type == OrderType.MARKET)
        listener.order_settled(step, order)
        settled.append(order)
        if order.status == OrderStatus.REJECTED:
            result.error = f"{order.symbol}: step {step} order rejected by the broker"

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


def _filled(orders: list[Order]) -> Decimal:
    return sum((o.filled_qty for o in orders), Decimal(0))


def _describe(quote: Quote | None) -> str:
    if quote is None:
        return "no quote"
    return f"bid {quote.bid}, ask {quote.ask}"
