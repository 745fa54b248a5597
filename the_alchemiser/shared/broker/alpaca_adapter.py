"""`BrokerPort` over alpaca-py: typed Decimal results, the project's errors, backoff, no blind resubmits.

alpaca-py is used in raw mode (`raw_data=True`) so decimals arrive as the strings Alpaca sends and are
parsed straight into Decimal. Its own retry loop (3 tries, 3 s apart, 429/504 only) is switched off so one
policy, `RetryPolicy`, governs every call, and its HTTP session gets a timeout (it has none by default).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import (
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
)

from the_alchemiser.shared.broker.alpaca_http import (
    call_with_retries,
    default_data_url,
    keys_from_settings,
    pause_before_retry,
    quiet_client,
    translate_error,
)
from the_alchemiser.shared.broker.errors import (
    BrokerError,
    BrokerUnavailableError,
    DuplicateClientOrderIdError,
    NotFoundError,
    OrderNotCancelableError,
    RateLimitedError,
    TransientBrokerError,
)
from the_alchemiser.shared.broker.models import (
    Account,
    Asset,
    CalendarDay,
    MarketClock,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Quote,
)
from the_alchemiser.shared.broker.retry import RetryPolicy
from the_alchemiser.shared.config.settings import Settings
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.secrets import register_secret

log = get_logger(__name__)

T = TypeVar("T")

ORDERS_PAGE = 500
DEFAULT_TIMEOUT_SECONDS = 10.0
# Statuses alpaca-py knows that the port does not: all are still-working orders, never terminal.
_WORKING_STATUSES = {"held", "accepted_for_bidding", "pending_review", "suspended", "stopped", "calculated"}
_FRACTION = re.compile(r"(\.\d{6})\d+")
_CANCEL_ACCEPTED = frozenset({OrderStatus.CANCELED, OrderStatus.PENDING_CANCEL})


def _ts(value: Any) -> datetime | None:
    """Alpaca stamps carry nanoseconds; Python keeps microseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(_FRACTION.sub(r"\1", str(value)).replace("Z", "+00:00"))


def _hhmm(value: str) -> time:
    return time.fromisoformat(value if len(value) > 4 else f"{value[:2]}:{value[2:]}")


def parse_order(raw: dict[str, Any]) -> Order:
    status = str(raw["status"])
    return Order(
        id=str(raw["id"]),
        client_order_id=str(raw["client_order_id"]),
        symbol=str(raw["symbol"]),
        side=raw["side"],
        type=raw.get("type") or raw.get("order_type"),
        time_in_force=raw["time_in_force"],
        status=OrderStatus.ACCEPTED if status in _WORKING_STATUSES else OrderStatus(status),
        qty=raw.get("qty"),
        notional=raw.get("notional"),
        filled_qty=raw.get("filled_qty") or "0",
        filled_avg_price=raw.get("filled_avg_price"),
        limit_price=raw.get("limit_price"),
        created_at=_ts(raw["created_at"]),
        updated_at=_ts(raw.get("updated_at")),
        filled_at=_ts(raw.get("filled_at")),
        canceled_at=_ts(raw.get("canceled_at")),
        replaced_by=None if raw.get("replaced_by") is None else str(raw["replaced_by"]),
        replaces=None if raw.get("replaces") is None else str(raw["replaces"]),
    )


def _parse_position(raw: dict[str, Any]) -> Position:
    return Position(
        symbol=raw["symbol"],
        qty=raw["qty"],
        qty_available=raw.get("qty_available") or raw["qty"],
        avg_entry_price=raw["avg_entry_price"],
        market_value=raw.get("market_value") or "0",
        current_price=raw.get("current_price") or "0",
        side=str(raw.get("side") or "long"),
    )


def _same_order(existing: Order, request: OrderRequest) -> bool:
    """A duplicate client_order_id is ours to adopt only if it is the same order."""
    return (
        existing.symbol.upper() == request.symbol.upper()
        and existing.side == request.side
        and existing.type == request.type
        and existing.qty == request.qty
        and existing.notional == request.notional
    )


class AlpacaBroker:
    """The real `BrokerPort`. Point `base_url` (and `data_url`) at the local paper broker in tests."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        paper: bool = True,
        base_url: str | None = None,
        data_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.retry = retry or RetryPolicy()
        register_secret(api_key, secret_key)
        base = base_url.rstrip("/") if base_url else None
        data = data_url.rstrip("/") if data_url else default_data_url(base)
        # raw mode returns JSON dicts/lists, not the model types alpaca-py's annotations promise
        self._trading: Any = TradingClient(api_key, secret_key, paper=paper, url_override=base, raw_data=True)
        self._data: Any = StockHistoricalDataClient(api_key, secret_key, url_override=data, raw_data=True)
        quiet_client(self._trading, timeout)
        quiet_client(self._data, timeout)

    @classmethod
    def from_settings(cls, settings: Settings, *, retry: RetryPolicy | None = None) -> AlpacaBroker:
        """Keys as `keys_from_settings` finds them; the URLs from the settings."""
        key, secret = keys_from_settings(settings)
        return cls(
            key,
            secret,
            paper=settings.paper_trading,
            base_url=settings.trading_base_url,
            data_url=settings.alpaca_data_url,
            retry=retry,
        )

    # ----- retries
    def _call(self, operation: str, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying transient failures (429, 5xx, connection) with backoff. Only for calls that are
        safe to repeat: reads, and writes whose repeat is harmless or checked by the caller."""

        def retried(attempt: int, error: BrokerError, delay: float) -> None:
            log.warning("broker call retried", operation=operation, attempt=attempt + 1, error=str(error), delay=delay)

        return call_with_retries(self.retry, fn, retried)

    def _pause(self, attempt: int, error: BrokerError) -> float:
        return pause_before_retry(self.retry, attempt, error)

    # ----- account and market
    def get_account(self) -> Account:
        raw: dict[str, Any] = self._call("get_account", self._trading.get_account)
        return Account(
            id=str(raw["id"]),
            status=str(raw["status"]),
            currency=str(raw.get("currency") or "USD"),
            cash=raw["cash"],
            buying_power=raw["buying_power"],
            equity=raw["equity"],
            portfolio_value=raw.get("portfolio_value") or raw["equity"],
        )

    def get_positions(self) -> list[Position]:
        raw: list[dict[str, Any]] = self._call("get_positions", self._trading.get_all_positions)
        return [_parse_position(item) for item in raw]

    def get_position(self, symbol: str) -> Position | None:
        try:
            raw: dict[str, Any] = self._call("get_position", lambda: self._trading.get_open_position(symbol))
        except NotFoundError:
            return None
        return _parse_position(raw)

    def get_asset(self, symbol: str) -> Asset:
        raw: dict[str, Any] = self._call("get_asset", lambda: self._trading.get_asset(symbol))
        return Asset(
            symbol=raw["symbol"],
            status=str(raw.get("status") or "active"),
            tradable=bool(raw.get("tradable")),
            fractionable=bool(raw.get("fractionable")),
            exchange=str(raw.get("exchange") or ""),
        )

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        if not symbols:
            return {}
        request = StockLatestQuoteRequest(symbol_or_symbols=list(symbols))
        raw: dict[str, dict[str, Any]] = self._call(
            "get_latest_quotes", lambda: self._data.get_stock_latest_quote(request)
        )
        return {
            symbol: Quote(
                symbol=symbol,
                bid=item.get("bp") or 0,
                ask=item.get("ap") or 0,
                bid_size=item.get("bs") or 0,
                ask_size=item.get("as") or 0,
                timestamp=_ts(item.get("t")),
            )
            for symbol, item in raw.items()
        }

    def get_clock(self) -> MarketClock:
        raw: dict[str, Any] = self._call("get_clock", self._trading.get_clock)
        return MarketClock(
            timestamp=_ts(raw["timestamp"]),
            is_open=bool(raw["is_open"]),
            next_open=_ts(raw["next_open"]),
            next_close=_ts(raw["next_close"]),
        )

    def get_calendar(self, start: date, end: date) -> list[CalendarDay]:
        request = GetCalendarRequest(start=start, end=end)
        raw: list[dict[str, Any]] = self._call("get_calendar", lambda: self._trading.get_calendar(request))
        return [
            CalendarDay(date=date.fromisoformat(item["date"]), open=_hhmm(item["open"]), close=_hhmm(item["close"]))
            for item in raw
        ]

    # ----- orders
    def place_order(self, request: OrderRequest) -> Order:
        """Place once. A 429 was not processed: retry it. A 5xx/timeout/connection failure is ambiguous: look the
        client_order_id up first and return the order if it exists; only if it does not, send again with the same
        client_order_id (the broker rejects a duplicate, which resolves to the existing order)."""
        attempts = self.retry.max_attempts
        last: BrokerError | None = None
        for attempt in range(attempts):
            try:
                raw: dict[str, Any] = self._trading.submit_order(self._alpaca_request(request))
                order = parse_order(raw)
                log.info("order placed", client_order_id=order.client_order_id, order_id=order.id, status=order.status)
                return order
            except Exception as exc:
                error = translate_error(exc)
                if isinstance(error, DuplicateClientOrderIdError):
                    existing = self.get_order_by_client_id(request.client_order_id)
                    if existing is not None and _same_order(existing, request):
                        log.info("order already placed", client_order_id=request.client_order_id, order_id=existing.id)
                        return existing
                    raise error from exc
                if isinstance(error, BrokerUnavailableError):
                    existing = self._reconcile(request.client_order_id, error)
                    if existing is not None:
                        return existing
                elif not isinstance(error, RateLimitedError):
                    raise error from exc
                last = error
                if attempt == attempts - 1:
                    raise error from exc
                delay = self._pause(attempt, error)
                log.warning(
                    "order placement retried",
                    client_order_id=request.client_order_id,
                    attempt=attempt + 1,
                    delay=delay,
                    error=str(error),
                )
        raise AssertionError(f"unreachable: {last}")  # pragma: no cover

    def _reconcile(self, client_order_id: str, cause: BrokerError) -> Order | None:
        """After an ambiguous failure: did the order get through? If we cannot tell, say so, never guess."""
        try:
            existing = self.get_order_by_client_id(client_order_id)
        except TransientBrokerError as exc:
            raise BrokerUnavailableError(
                f"order {client_order_id} may or may not have been placed ({cause}); lookup failed: {exc}",
                status_code=exc.status_code,
            ) from exc
        if existing is not None:
            log.warning(
                "order found after ambiguous failure",
                client_order_id=client_order_id,
                order_id=existing.id,
                cause=str(cause),
            )
        return existing

    @staticmethod
    def _alpaca_request(request: OrderRequest) -> MarketOrderRequest | LimitOrderRequest:
        common: dict[str, Any] = {
            "symbol": request.symbol,
            "side": request.side.value,
            "time_in_force": request.time_in_force.value,
            "client_order_id": request.client_order_id,
        }
        if request.qty is not None:
            common["qty"] = float(request.qty)
        if request.notional is not None:
            common["notional"] = float(request.notional)
        if request.type == OrderType.LIMIT:
            assert request.limit_price is not None
            return LimitOrderRequest(limit_price=float(request.limit_price), **common)
        return MarketOrderRequest(**common)

    def get_order(self, order_id: str) -> Order:
        return parse_order(self._call("get_order", lambda: self._trading.get_order_by_id(order_id)))

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        try:
            raw: dict[str, Any] = self._call(
                "get_order_by_client_id", lambda: self._trading.get_order_by_client_id(client_order_id)
            )
        except NotFoundError:
            return None
        return parse_order(raw)

    def cancel_order(self, order_id: str) -> None:
        """Cancel an open order. 422 (already filled, canceled, expired, replaced) -> OrderNotCancelableError,
        except when an earlier attempt of this same call was lost in transit and the order is now canceled."""
        attempts = self.retry.max_attempts
        ambiguous = False
        for attempt in range(attempts):
            try:
                self._trading.cancel_order_by_id(order_id)
                log.info("order canceled", order_id=order_id)
                return
            except Exception as exc:
                error = translate_error(exc)
                if error.status_code == 422:
                    # our earlier, lost request got through: canceled, or accepted and on its way
                    if ambiguous and self.get_order(order_id).status in _CANCEL_ACCEPTED:
                        return
                    raise OrderNotCancelableError(str(error), status_code=422, code=error.code) from exc
                if not isinstance(error, TransientBrokerError) or attempt == attempts - 1:
                    raise error from exc
                ambiguous = ambiguous or isinstance(error, BrokerUnavailableError)
                self._pause(attempt, error)
        raise AssertionError("unreachable")  # pragma: no cover

    def replace_order(
        self,
        order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """PATCH the order: Alpaca makes a new order (`replaces` = order_id); the old one becomes `replaced`.
        After an ambiguous failure the old order is read: if it was replaced, its replacement is returned."""
        fields: dict[str, Any] = {}
        if qty is not None:
            fields["qty"] = int(qty) if qty == qty.to_integral_value() else float(qty)
        if limit_price is not None:
            fields["limit_price"] = float(limit_price)
        if client_order_id is not None:
            fields["client_order_id"] = client_order_id
        attempts = self.retry.max_attempts
        for attempt in range(attempts):
            try:
                if isinstance(fields.get("qty"), float):  # alpaca-py's ReplaceOrderRequest takes whole shares only
                    raw = self._trading.patch(f"/orders/{order_id}", fields)
                else:
                    raw = self._trading.replace_order_by_id(order_id, ReplaceOrderRequest(**fields))
                order = parse_order(raw)
                log.info("order replaced", old_order_id=order_id, order_id=order.id)
                return order
            except Exception as exc:
                error = translate_error(exc)
                if not isinstance(error, TransientBrokerError) or attempt == attempts - 1:
                    raise error from exc
                if isinstance(error, BrokerUnavailableError):
                    old = self.get_order(order_id)
                    if old.status == OrderStatus.REPLACED and old.replaced_by:
                        return self.get_order(old.replaced_by)
                self._pause(attempt, error)
        raise AssertionError("unreachable")  # pragma: no cover

    def list_orders(
        self, *, status: str = "all", after: datetime | None = None, symbols: Sequence[str] | None = None
    ) -> list[Order]:
        """Every matching order, newest first, paging past Alpaca's 500-a-page limit."""
        seen: dict[str, Order] = {}
        until: datetime | None = None
        while True:
            raw = self._orders_page(status, after, until, symbols)
            new = 0
            oldest: datetime | None = None
            for item in raw:
                stamp = _ts(item.get("submitted_at") or item["created_at"])
                if stamp is not None and (oldest is None or stamp < oldest):
                    oldest = stamp
                if str(item["id"]) in seen:
                    continue
                try:
                    seen[str(item["id"])] = parse_order(item)
                    new += 1
                except ValueError as exc:  # an order type or time in force the port does not model
                    log.warning("order skipped", order_id=item.get("id"), error=str(exc))
            if len(raw) < ORDERS_PAGE or new == 0 or oldest is None:
                break
            # `until` is exclusive: step a microsecond past the oldest so orders sharing its stamp come again
            until = oldest + timedelta(microseconds=1)
        return sorted(seen.values(), key=lambda o: o.created_at, reverse=True)

    def _orders_page(
        self, status: str, after: datetime | None, until: datetime | None, symbols: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        request = GetOrdersRequest(
            status=status,
            limit=ORDERS_PAGE,
            after=after,
            until=until,
            direction="desc",
            symbols=list(symbols) if symbols else None,
        )
        raw: list[dict[str, Any]] = self._call("list_orders", lambda: self._trading.get_orders(request))
        return raw
