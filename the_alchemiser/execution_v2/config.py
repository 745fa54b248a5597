"""Execution's tunables: the walk through the book, waits, concurrency and the request budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class ExecutionConfig:
    # Fractions of the way from the midpoint to the far touch for the limit steps (0 = midpoint,
    # 1 = the far touch: the ask for a buy, the bid for a sell). A market order follows the last.
    limit_step_fractions: tuple[Decimal, ...] = field(
        default_factory=lambda: (Decimal("0"), Decimal("0.5"), Decimal("1"))
    )
    step_wait_seconds: float = 4.0  # how long a limit step rests before cancel and re-place
    poll_interval_seconds: float = 1.0
    market_wait_seconds: float = 30.0  # the market order's wait before it is cancelled (e.g. a halt)
    cancel_wait_seconds: float = 10.0  # how long to wait for a cancel to become terminal
    max_workers: int = 10  # orders worked at once within a phase
    # Stop this long before the Lambda timeout, between steps, so SQS can hand the plan straight back
    # (a killed invocation would only be redelivered after the queue's visibility timeout).
    stop_before_timeout_seconds: float = 25.0
    # A delivery owns its plan until its invocation's deadline; without a known deadline (a test, a
    # script) for Lambda's longest timeout.
    lease_seconds_without_deadline: float = 900.0
    # Alpaca allows 200 requests/minute per account: refill + burst stay under it in any minute.
    trading_requests_per_minute: int = 180
    trading_burst: int = 20
    data_requests_per_minute: int = 180
    data_burst: int = 20
    transient_retries: int = 1  # on top of the adapter's own backoff; then the message is retried
    transient_backoff_seconds: float = 1.0
    # Buys are sized against min(cash, buying_power) at the far touch, times this margin for the
    # market step's slippage; never on margin.
    buy_price_margin: Decimal = Decimal("0.002")

    @property
    def total_steps(self) -> int:
        return len(self.limit_step_fractions) + 1

    @property
    def market_step(self) -> int:
        return len(self.limit_step_fractions)
