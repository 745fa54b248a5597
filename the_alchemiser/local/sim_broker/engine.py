"""The simulated broker's rules: accounts, orders, fills and the market model, over SQLite state.

Alpaca-like behaviour, chosen deliberately:
- Orders placed while the market is closed are accepted (status `accepted`) and queued; they go `new` and
  may fill at the first tick after the open. Day orders expire at the close of their session.
- Market orders fill in full at the far touch (buy at the ask, sell at the bid) when the market is open.
- A limit order that crosses fills at the touch, at most `displayed_size` shares per match (so big orders
  fill partially over several ticks). A limit resting strictly inside the spread fills at its limit price
  with a seeded probability per tick that grows linearly from 0 at the near touch to
  `inside_fill_probability` at the far touch (the midpoint gets half). At or behind the near touch: no fill.
- A tick happens when the clock is advanced or a tick is requested; placing an order matches it once
  against the current quote (crossing only, no inside-spread luck).
- Cancel races (FillBehaviour): `cancel_race` fills the remainder first and answers the cancel 422;
  `cancel_fill_race` answers 204 (pending_cancel) and lets the remainder fill at the next tick.
- Quantities take at most 9 decimal places and notionals whole cents (422 otherwise), as Alpaca.
- Cash account: no shorting, no margin; buys are checked against buying power (cash less what open buys
  reserve), sells against qty_available (position less what open sells hold).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from the_alchemiser.local.sim_broker.prices import BarsSource, DailyBar, PriceSource
from the_alchemiser.local.sim_broker.store import open_state
from the_alchemiser.shared.calendar import NEW_YORK, NyseCalendar, TradingSession, nyse_calendar
from the_alchemiser.shared.logging import get_logger

log = get_logger(__name__)

CENT = Decimal("0.01")
SUB_CENT = Decimal("0.0001")
QTY_STEP = Decimal("0.000000001")
OPEN_STATUSES = ("new", "accepted", "partially_filled", "pending_new", "pending_cancel")
SUPPORTED_TIME_IN_FORCE = ("day", "gtc", "ioc")
MAX_CLIENT_ORDER_ID = 128
MAX_ORDERS_PAGE = 500

CODE_BY_STATUS = {401: 40110000, 403: 40310000, 404: 40410000, 422: 40010001, 429: 42910000, 500: 50010000}


class SimApiError(Exception):
    """An error the server returns as `{"code", "message"}` with an HTTP status."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code if code is not None else CODE_BY_STATUS.get(status, status * 100000)


@dataclass(frozen=True)
class FillBehaviour:
    """The market model's knobs (in memory; a restart takes them from the starter's arguments)."""

    spread_bps: Decimal = Decimal(10)
    displayed_size: Decimal = Decimal(10_000)
    inside_fill_probability: float = 0.6
    seed: int = 7
    cancel_race: bool = False  # a cancel of an open order loses to a fill of its remainder (then 422)
    # Alpaca's cancel is a request: acknowledged (204, the order goes pending_cancel), yet the remainder fills
    # at the next tick before the cancel lands, so the order ends `filled`, not `canceled`
    cancel_fill_race: bool = False

    def updated(self, changes: Mapping[str, Any]) -> FillBehaviour:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise SimApiError(422, f"unknown fill behaviour fields: {sorted(unknown)}")
        typed: dict[str, Any] = {}
        for name, value in changes.items():
            if name in ("spread_bps", "displayed_size"):
                typed[name] = _decimal(value, name)
            elif name == "inside_fill_probability":
                typed[name] = float(value)
            elif name == "seed":
                typed[name] = int(value)
            elif isinstance(value, str):  # JSON from /_sim/behaviour may say "false"
                typed[name] = value.strip().lower() in ("1", "true", "yes", "on")
            else:
                typed[name] = bool(value)
        return replace(self, **typed)


@dataclass(frozen=True)
class SimQuote:
    symbol: str
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal
    reference: Decimal


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    text = value.strip().replace("Z", "+00:00").replace(" ", "+")
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=NEW_YORK)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def dec_str(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _decimal(value: Any, name: str) -> Decimal:
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise SimApiError(422, f"invalid {name}: {value!r}") from exc
    if not result.is_finite():
        raise SimApiError(422, f"invalid {name}: {value!r}")
    return result


def _optional_decimal(body: Mapping[str, Any], name: str) -> Decimal | None:
    value = body.get(name)
    return None if value is None or value == "" else _decimal(value, name)


def _tick_size(price: Decimal) -> Decimal:
    return CENT if price >= 1 else SUB_CENT


class SimBrokerEngine:
    """All broker operations, serialised by one lock, each one SQLite transaction; the clock is also kept in
    memory (`now`), readable without either."""

    def __init__(
        self,
        state_path: Path,
        *,
        price_source: PriceSource,
        clock_start: datetime,
        initial_cash: Decimal = Decimal(100_000),
        behaviour: FillBehaviour | None = None,
        non_fractionable: Sequence[str] = (),
        calendar: NyseCalendar | None = None,
    ) -> None:
        self.state_path = state_path
        self.price_source = price_source
        self.behaviour = behaviour or FillBehaviour()
        self.non_fractionable = {s.upper() for s in non_fractionable}
        self.calendar = calendar or nyse_calendar()
        self._lock = threading.RLock()
        self._sessions: dict[date, TradingSession | None] = {}
        self._conn = open_state(state_path)
        self._clock = clock_start  # until the state file's clock is read, just below
        with self._tx() as db:
            if self._meta(db, "account_id") is None:
                self._set_meta(db, "account_id", str(uuid.uuid4()))
                self._set_meta(db, "account_number", "PA" + uuid.uuid4().hex[:10].upper())
                self._set_meta(db, "created_at", iso(clock_start))
                self._set_meta(db, "cash", str(initial_cash))
                self._set_meta(db, "clock", iso(clock_start))
                self._set_meta(db, "tick", "0")
            self._clock = self._now(db)  # a kept state file's clock
        log.info("sim broker state opened", path=str(state_path), clock=iso(self.now()))

    # ----- plumbing
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            clock = self._clock
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._clock = clock  # what the rolled-back transaction moved moves back
                raise
            else:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _meta(db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?", (key, value, value)
        )

    def _now(self, db: sqlite3.Connection) -> datetime:
        return parse_time(self._meta(db, "clock") or iso(datetime.now(UTC)))

    def now(self) -> datetime:
        """The simulated time, from memory: no lock, no transaction. So any thread may read it at any moment,
        the engine's own included while it holds a transaction (the local day's log stamper does, whenever
        the broker logs): a read through the database would fail there ("cannot start a transaction within
        a transaction"). Moved with the clock row by `_set_clock`, in step within the transaction."""
        return self._clock

    def _set_clock(self, db: sqlite3.Connection, moment: datetime) -> None:
        self._set_meta(db, "clock", iso(moment))
        self._clock = parse_time(iso(moment))

    def _cash(self, db: sqlite3.Connection) -> Decimal:
        return Decimal(self._meta(db, "cash") or "0")

    def _session(self, day: date) -> TradingSession | None:
        if day not in self._sessions:  # exchange_calendars lookups are slow; sessions never change
            self._sessions[day] = self.calendar.session(day)
        return self._sessions[day]

    def _is_open(self, now: datetime) -> bool:
        session = self._session(now.astimezone(NEW_YORK).date())
        return bool(session and session.open <= now < session.close)

    # ----- market model
    def _reference(self, db: sqlite3.Connection, symbol: str, now: datetime) -> Decimal | None:
        row = db.execute("SELECT price FROM price_overrides WHERE symbol = ?", (symbol,)).fetchone()
        if row is not None:
            return Decimal(row["price"])
        return self.price_source.reference_price(symbol, now.astimezone(NEW_YORK).date())

    def _quote(self, db: sqlite3.Connection, symbol: str, now: datetime) -> SimQuote | None:
        reference = self._reference(db, symbol, now)
        if reference is None or reference <= 0:
            return None
        tick = _tick_size(reference)
        half = reference * self.behaviour.spread_bps / Decimal(20_000)
        bid = (reference - half).quantize(tick, rounding=ROUND_DOWN)
        ask = (reference + half).quantize(tick, rounding=ROUND_UP)
        if ask <= bid:
            ask = bid + tick
        size = self.behaviour.displayed_size
        return SimQuote(symbol=symbol, bid=bid, ask=ask, bid_size=size, ask_size=size, reference=reference)

    def _require_quote(self, db: sqlite3.Connection, symbol: str, now: datetime) -> SimQuote:
        quote = self._quote(db, symbol, now)
        if quote is None:
            raise SimApiError(422, f'asset "{symbol}" not found')
        return quote

    def _chance(self, client_order_id: str, tick: int) -> float:
        digest = hashlib.sha256(f"{self.behaviour.seed}:{client_order_id}:{tick}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    # ----- account and positions
    def _positions(self, db: sqlite3.Connection) -> list[sqlite3.Row]:
        return list(db.execute("SELECT * FROM positions ORDER BY symbol"))

    def _open_orders(
        self, db: sqlite3.Connection, *, symbol: str | None = None, side: str | None = None
    ) -> list[sqlite3.Row]:
        sql = f"SELECT * FROM orders WHERE status IN ({','.join('?' * len(OPEN_STATUSES))})"
        args: list[Any] = list(OPEN_STATUSES)
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        if side is not None:
            sql += " AND side = ?"
            args.append(side)
        return list(db.execute(sql + " ORDER BY seq", args))

    def _buy_reservation(self, db: sqlite3.Connection, order: sqlite3.Row, now: datetime) -> Decimal:
        if order["notional"] is not None:
            return max(Decimal(0), Decimal(order["notional"]) - Decimal(order["filled_notional"]))
        remaining = Decimal(order["qty"]) - Decimal(order["filled_qty"])
        if order["limit_price"] is not None:
            return remaining * Decimal(order["limit_price"])  # no quote needed: keeps many open orders cheap
        quote = self._quote(db, order["symbol"], now)
        return remaining * (quote.ask if quote else Decimal(0))

    def _sell_hold(self, db: sqlite3.Connection, order: sqlite3.Row, now: datetime) -> Decimal:
        if order["notional"] is not None:
            quote = self._quote(db, order["symbol"], now)
            remaining = Decimal(order["notional"]) - Decimal(order["filled_notional"])
            return (
                (remaining / quote.bid).quantize(QTY_STEP, rounding=ROUND_UP) if quote and quote.bid > 0 else Decimal(0)
            )
        return Decimal(order["qty"]) - Decimal(order["filled_qty"])

    def _buying_power(self, db: sqlite3.Connection, now: datetime, *, excluding: str | None = None) -> Decimal:
        reserved = sum(
            (self._buy_reservation(db, o, now) for o in self._open_orders(db, side="buy") if o["id"] != excluding),
            Decimal(0),
        )
        return max(Decimal(0), self._cash(db) - reserved)

    def _qty_available(
        self, db: sqlite3.Connection, symbol: str, now: datetime, *, excluding: str | None = None
    ) -> Decimal:
        row = db.execute("SELECT qty FROM positions WHERE symbol = ?", (symbol,)).fetchone()
        held = Decimal(row["qty"]) if row else Decimal(0)
        holds = sum(
            (
                self._sell_hold(db, o, now)
                for o in self._open_orders(db, symbol=symbol, side="sell")
                if o["id"] != excluding
            ),
            Decimal(0),
        )
        return max(Decimal(0), held - holds)

    def account(self) -> dict[str, Any]:
        with self._tx() as db:
            now = self._now(db)
            cash = self._cash(db)
            long_value = Decimal(0)
            for position in self._positions(db):
                quote = self._quote(db, position["symbol"], now)
                price = quote.reference if quote else Decimal(position["avg_entry_price"])
                long_value += Decimal(position["qty"]) * price
            equity = cash + long_value
            buying_power = self._buying_power(db, now)
            return {
                "id": self._meta(db, "account_id"),
                "account_number": self._meta(db, "account_number"),
                "status": "ACTIVE",
                "crypto_status": "INACTIVE",
                "currency": "USD",
                "cash": dec_str(cash),
                "buying_power": dec_str(buying_power),
                "regt_buying_power": dec_str(buying_power),
                "daytrading_buying_power": "0",
                "non_marginable_buying_power": dec_str(buying_power),
                "equity": dec_str(equity),
                "last_equity": dec_str(equity),
                "portfolio_value": dec_str(equity),
                "long_market_value": dec_str(long_value),
                "short_market_value": "0",
                "initial_margin": "0",
                "maintenance_margin": "0",
                "last_maintenance_margin": "0",
                "sma": "0",
                "multiplier": "1",
                "daytrade_count": 0,
                "pattern_day_trader": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "trade_suspended_by_user": False,
                "shorting_enabled": False,
                "created_at": self._meta(db, "created_at"),
            }

    def _position_json(self, db: sqlite3.Connection, row: sqlite3.Row, now: datetime) -> dict[str, Any]:
        symbol = row["symbol"]
        qty = Decimal(row["qty"])
        avg = Decimal(row["avg_entry_price"])
        quote = self._quote(db, symbol, now)
        price = quote.reference if quote else avg
        cost_basis = qty * avg
        market_value = qty * price
        unrealized = market_value - cost_basis
        plpc = (unrealized / cost_basis).quantize(Decimal("0.0000000001")) if cost_basis else Decimal(0)
        return {
            "asset_id": str(asset_id(symbol)),
            "symbol": symbol,
            "exchange": "NYSE",
            "asset_class": "us_equity",
            "asset_marginable": False,
            "avg_entry_price": dec_str(avg),
            "qty": dec_str(qty),
            "qty_available": dec_str(self._qty_available(db, symbol, now)),
            "side": "long",
            "market_value": dec_str(market_value),
            "cost_basis": dec_str(cost_basis),
            "unrealized_pl": dec_str(unrealized),
            "unrealized_plpc": dec_str(plpc),
            "unrealized_intraday_pl": dec_str(unrealized),
            "unrealized_intraday_plpc": dec_str(plpc),
            "current_price": dec_str(price),
            "lastday_price": dec_str(price),
            "change_today": "0",
        }

    def positions(self) -> list[dict[str, Any]]:
        with self._tx() as db:
            now = self._now(db)
            return [self._position_json(db, row, now) for row in self._positions(db)]

    def position(self, symbol: str) -> dict[str, Any]:
        with self._tx() as db:
            row = db.execute("SELECT * FROM positions WHERE symbol = ?", (symbol.upper(),)).fetchone()
            if row is None:
                raise SimApiError(404, "position does not exist")
            return self._position_json(db, row, self._now(db))

    def asset(self, symbol: str) -> dict[str, Any]:
        symbol = symbol.upper()
        with self._tx() as db:
            if self._reference(db, symbol, self._now(db)) is None:
                raise SimApiError(404, f"asset not found for {symbol}")
            halted = db.execute("SELECT 1 FROM halts WHERE symbol = ?", (symbol,)).fetchone() is not None
        return {
            "id": str(asset_id(symbol)),
            "class": "us_equity",
            "asset_class": "us_equity",
            "exchange": "NYSE",
            "symbol": symbol,
            "name": symbol,
            "status": "active",
            "tradable": not halted,
            "marginable": False,
            "shortable": False,
            "easy_to_borrow": False,
            "fractionable": symbol not in self.non_fractionable,
        }

    # ----- clock and calendar
    def clock(self) -> dict[str, Any]:
        with self._tx() as db:
            now = self._now(db)
        is_open = self._is_open(now)
        day = now.astimezone(NEW_YORK).date()
        today = self.calendar.session(day)
        if is_open and today is not None:
            next_close = today.close
            next_open_session = self.calendar.session(self.calendar.next_trading_day(day))
        else:
            if today is not None and now < today.open:
                next_open_session = today
            else:
                next_open_session = self.calendar.session(self.calendar.next_trading_day(day))
            next_close = next_open_session.close if next_open_session else now
        assert next_open_session is not None
        return {
            "timestamp": now.astimezone(NEW_YORK).isoformat(),
            "is_open": is_open,
            "next_open": next_open_session.open.isoformat(),
            "next_close": next_close.astimezone(NEW_YORK).isoformat(),
        }

    def calendar_days(self, start: date, end: date) -> list[dict[str, Any]]:
        days = []
        for day in self.calendar.trading_days(start, end):
            session = self.calendar.session(day)
            assert session is not None
            days.append(
                {
                    "date": day.isoformat(),
                    "open": session.open.strftime("%H:%M"),
                    "close": session.close.strftime("%H:%M"),
                    "session_open": "0400",
                    "session_close": "2000",
                    "settlement_date": self.calendar.next_trading_day(day).isoformat(),
                }
            )
        return days

    # ----- market data
    def latest_quotes(self, symbols: Sequence[str]) -> dict[str, Any]:
        with self._tx() as db:
            now = self._now(db)
            quotes: dict[str, Any] = {}
            for symbol in symbols:
                quote = self._quote(db, symbol.upper(), now)
                if quote is None:
                    continue
                quotes[quote.symbol] = {
                    "t": iso(now),
                    "ap": float(quote.ask),
                    "as": float(quote.ask_size),
                    "bp": float(quote.bid),
                    "bs": float(quote.bid_size),
                    "ax": "V",
                    "bx": "V",
                    "c": ["R"],
                    "z": "B",
                }
            return {"quotes": quotes}

    def daily_bars(
        self, symbols: Sequence[str], start: date, end: date, adjustment: str = "raw"
    ) -> dict[str, list[dict[str, Any]]]:
        """Bars up to the simulated today (today's only after its close): no bars from the future.
        `adjustment` as Alpaca's (raw, split, dividend, all); only a bar-frame source knows splits."""
        now = self.now()
        ny_now = now.astimezone(NEW_YORK)
        close_today = self.calendar.close_time(ny_now.date()) if self.calendar.is_trading_day(ny_now.date()) else None
        last_day = (
            ny_now.date() if close_today is not None and now >= close_today else ny_now.date() - timedelta(days=1)
        )
        end = min(end, last_day)
        result: dict[str, list[dict[str, Any]]] = {}
        for requested in symbols:
            symbol = requested.upper()
            bars = self._bars_for(symbol, start, end, adjustment)
            if bars:
                result[symbol] = [_bar_json(bar) for bar in bars]
        return result

    def _bars_for(self, symbol: str, start: date, end: date, adjustment: str = "raw") -> list[DailyBar]:
        if end < start:
            return []
        if isinstance(self.price_source, BarsSource):
            return self.price_source.daily_bars(symbol, start, end, adjustment)
        bars = []
        for day in self.calendar.trading_days(start, end):
            price = self.price_source.reference_price(symbol, day)
            if price is not None:
                bars.append(DailyBar(day, price, price, price, price, Decimal(0)))
        return bars

    # ----- orders
    def _order_row(self, db: sqlite3.Connection, order_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is None:
            raise SimApiError(404, "order not found")
        found: sqlite3.Row = row
        return found

    def get_order(self, order_id: str) -> dict[str, Any]:
        with self._tx() as db:
            return order_json(self._order_row(db, order_id))

    def get_order_by_client_id(self, client_order_id: str) -> dict[str, Any]:
        with self._tx() as db:
            row = db.execute("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
            if row is None:
                raise SimApiError(404, "order not found")
            return order_json(row)

    def list_orders(
        self,
        *,
        status: str = "open",
        limit: int = 50,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: str = "desc",
        symbols: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        if status not in ("open", "closed", "all"):
            raise SimApiError(422, f"invalid status {status}")
        if direction not in ("asc", "desc"):
            raise SimApiError(422, f"invalid direction {direction}")
        limit = max(1, min(limit, MAX_ORDERS_PAGE))
        with self._tx() as db:
            rows = list(db.execute("SELECT * FROM orders ORDER BY seq"))
        selected = []
        wanted = {s.upper() for s in symbols} if symbols else None
        for row in rows:
            is_open = row["status"] in OPEN_STATUSES
            if (status == "open" and not is_open) or (status == "closed" and is_open):
                continue
            if wanted is not None and row["symbol"] not in wanted:
                continue
            submitted = parse_time(row["submitted_at"])
            if (after is not None and submitted <= after) or (until is not None and submitted >= until):
                continue
            selected.append(row)
        if direction == "desc":
            selected.reverse()
        return [order_json(row) for row in selected[:limit]]

    def _validate_new_order(
        self,
        db: sqlite3.Connection,
        now: datetime,
        body: Mapping[str, Any],
        *,
        replacing: sqlite3.Row | None = None,
    ) -> dict[str, Any]:
        """Check an order like Alpaca does; return the row values to insert."""
        symbol = str(body.get("symbol") or "").upper()
        if not symbol:
            raise SimApiError(422, "symbol is required")
        quote = self._require_quote(db, symbol, now)
        if db.execute("SELECT 1 FROM halts WHERE symbol = ?", (symbol,)).fetchone() is not None:
            raise SimApiError(422, f"asset {symbol} is not tradable")
        side = str(body.get("side") or "")
        if side not in ("buy", "sell"):
            raise SimApiError(422, f"invalid side: {side!r}")
        order_type = str(body.get("type") or body.get("order_type") or "")
        if order_type not in ("market", "limit"):
            raise SimApiError(422, f"order type {order_type!r} is not supported")
        tif = str(body.get("time_in_force") or "")
        if tif not in SUPPORTED_TIME_IN_FORCE:
            raise SimApiError(422, f"time_in_force {tif!r} is not supported")
        qty = _optional_decimal(body, "qty")
        notional = _optional_decimal(body, "notional")
        if (qty is None) == (notional is None):
            raise SimApiError(422, "qty or notional is required, not both")
        if qty is not None and qty <= 0:
            raise SimApiError(422, "qty must be > 0")
        if qty is not None and qty != qty.quantize(QTY_STEP):
            raise SimApiError(422, f"qty {dec_str(qty)} has more than 9 decimal places")
        if notional is not None:
            if notional < 1:
                raise SimApiError(403, "cost basis must be >= 1")
            if notional != notional.quantize(CENT):
                raise SimApiError(
                    422, f"notional {dec_str(notional)}: increment does not fulfill minimum pricing criteria"
                )
            if order_type != "market":
                raise SimApiError(422, "notional orders are only supported for market orders")
        fractional = notional is not None or (qty is not None and qty != qty.to_integral_value())
        if fractional and tif != "day":
            raise SimApiError(422, "fractional orders must be DAY orders")
        if fractional and symbol in self.non_fractionable:
            raise SimApiError(422, f"asset {symbol} is not fractionable")
        limit_price = _optional_decimal(body, "limit_price")
        if order_type == "limit":
            if limit_price is None:
                raise SimApiError(422, "limit orders require a limit_price")
            if limit_price <= 0:
                raise SimApiError(422, "limit_price must be > 0")
            if limit_price != limit_price.quantize(_tick_size(limit_price)):
                raise SimApiError(
                    422,
                    f"invalid limit_price {dec_str(limit_price)}."
                    " sub-penny increment does not fulfill minimum pricing criteria",
                )
        else:
            limit_price = None
        client_order_id = str(body.get("client_order_id") or uuid.uuid4())
        if len(client_order_id) > MAX_CLIENT_ORDER_ID:
            raise SimApiError(422, f"client_order_id must be no more than {MAX_CLIENT_ORDER_ID} characters")
        if db.execute("SELECT 1 FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone() is not None:
            raise SimApiError(422, "client_order_id must be unique")
        excluding = replacing["id"] if replacing is not None else None
        if side == "buy":
            if notional is not None:
                cost = notional
            else:
                assert qty is not None
                cost = qty * (limit_price if limit_price is not None else quote.ask)
            if cost > self._buying_power(db, now, excluding=excluding):
                raise SimApiError(403, "insufficient buying power")
        else:
            wanted = qty if qty is not None else (notional / quote.bid).quantize(QTY_STEP, rounding=ROUND_UP)  # type: ignore[operator]
            available = self._qty_available(db, symbol, now, excluding=excluding)
            if wanted > available:
                raise SimApiError(
                    403,
                    "insufficient qty available for order"
                    f" (requested: {dec_str(wanted)}, available: {dec_str(available)})",
                )
        expires_at = self._day_expiry(now) if tif == "day" else None
        stamp = iso(now)
        return {
            "id": str(uuid.uuid4()),
            "client_order_id": client_order_id,
            "symbol": symbol,
            "side": side,
            "type": order_type,
            "time_in_force": tif,
            "status": "new" if self._is_open(now) else "accepted",
            "qty": dec_str(qty),
            "notional": dec_str(notional),
            "filled_qty": "0",
            "filled_notional": "0",
            "filled_avg_price": None,
            "limit_price": dec_str(limit_price),
            "created_at": stamp,
            "updated_at": stamp,
            "submitted_at": iso(self._submission_time(db, now)),
            "replaces": excluding,
            "expires_at": iso(expires_at) if expires_at else None,
        }

    def _submission_time(self, db: sqlite3.Connection, now: datetime) -> datetime:
        """The clock, nudged a microsecond past the previous order's: the simulated clock stands still between
        ticks, and Alpaca's `after`/`until` paging over `submitted_at` needs distinct stamps (Alpaca's are ns)."""
        row = db.execute("SELECT submitted_at FROM orders ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return now
        return max(now, parse_time(row["submitted_at"]) + timedelta(microseconds=1))

    def _day_expiry(self, now: datetime) -> datetime:
        day = now.astimezone(NEW_YORK).date()
        session = self._session(day)
        if session is not None and now < session.close:
            return session.close
        following = self._session(self.calendar.next_trading_day(day))
        assert following is not None
        return following.close

    def _insert(self, db: sqlite3.Connection, values: dict[str, Any]) -> sqlite3.Row:
        columns = ",".join(values)
        db.execute(f"INSERT INTO orders ({columns}) VALUES ({','.join('?' * len(values))})", list(values.values()))
        return self._order_row(db, values["id"])

    def place_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._tx() as db:
            now = self._now(db)
            row = self._insert(db, self._validate_new_order(db, now, body))
            row = self._after_submit(db, row, now)
            log.info(
                "sim order placed", order_id=row["id"], client_order_id=row["client_order_id"], status=row["status"]
            )
            return order_json(row)

    def _after_submit(self, db: sqlite3.Connection, row: sqlite3.Row, now: datetime) -> sqlite3.Row:
        if self._is_open(now):
            row = self._match(db, row, now, tick=None)
        if row["time_in_force"] == "ioc" and row["status"] in OPEN_STATUSES:
            row = self._finish(db, row, "canceled", now)
        return row

    def replace_order(self, order_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH: a new order (`replaces` = old id) with the old one's remaining qty unless `qty` is given."""
        with self._tx() as db:
            now = self._now(db)
            old = self._order_row(db, order_id)
            if old["status"] not in OPEN_STATUSES or old["status"] == "pending_cancel":
                raise SimApiError(422, f'order is already in "{old["status"]}" state', code=42210000)
            if old["type"] != "limit" or old["notional"] is not None:
                raise SimApiError(422, "only limit orders with a qty can be replaced")
            remaining = Decimal(old["qty"]) - Decimal(old["filled_qty"])
            merged = {
                "symbol": old["symbol"],
                "side": old["side"],
                "type": old["type"],
                "time_in_force": body.get("time_in_force") or old["time_in_force"],
                "qty": body.get("qty") if body.get("qty") is not None else remaining,
                "limit_price": body.get("limit_price") if body.get("limit_price") is not None else old["limit_price"],
                "client_order_id": body.get("client_order_id"),
            }
            new = self._insert(db, self._validate_new_order(db, now, merged, replacing=old))
            stamp = iso(now)
            db.execute(
                "UPDATE orders SET status = 'replaced', replaced_at = ?, replaced_by = ?, updated_at = ? WHERE id = ?",
                (stamp, new["id"], stamp, old["id"]),
            )
            new = self._after_submit(db, new, now)
            log.info("sim order replaced", old_id=old["id"], new_id=new["id"])
            return order_json(new)

    def cancel_order(self, order_id: str) -> None:
        if self.behaviour.cancel_race:  # the fill lands (and is kept) before the cancel is looked at
            with self._tx() as db:
                row = self._order_row(db, order_id)
                if row["status"] in OPEN_STATUSES:
                    self._force_fill(db, row, self._now(db), qty=None, price=None)
        with self._tx() as db:
            now = self._now(db)
            row = self._order_row(db, order_id)
            if row["status"] not in OPEN_STATUSES or row["status"] == "pending_cancel":
                raise SimApiError(422, f'order is already in "{row["status"]}" state', code=42210000)
            if self.behaviour.cancel_fill_race:
                stamp = iso(now)
                db.execute(
                    "UPDATE orders SET status = 'pending_cancel', updated_at = ? WHERE id = ?", (stamp, row["id"])
                )
                return
            self._finish(db, row, "canceled", now)

    def cancel_all(self) -> list[dict[str, Any]]:
        with self._tx() as db:
            now = self._now(db)
            results = []
            for row in self._open_orders(db):
                done = self._finish(db, row, "canceled", now)
                results.append({"id": done["id"], "status": 200, "body": order_json(done)})
            return results

    def _finish(self, db: sqlite3.Connection, row: sqlite3.Row, status: str, at: datetime) -> sqlite3.Row:
        column = {"canceled": "canceled_at", "expired": "expired_at"}[status]
        stamp = iso(at)
        db.execute(
            f"UPDATE orders SET status = ?, {column} = ?, updated_at = ? WHERE id = ?",
            (status, stamp, stamp, row["id"]),
        )
        return self._order_row(db, row["id"])

    # ----- matching
    def _match(self, db: sqlite3.Connection, row: sqlite3.Row, now: datetime, *, tick: int | None) -> sqlite3.Row:
        quote = self._quote(db, row["symbol"], now)
        if quote is None:
            return row
        buy = row["side"] == "buy"
        touch = quote.ask if buy else quote.bid
        if row["type"] == "market":
            if row["notional"] is not None:
                remaining_cash = Decimal(row["notional"]) - Decimal(row["filled_notional"])
                qty = (remaining_cash / touch).quantize(QTY_STEP, rounding=ROUND_DOWN)
            else:
                qty = Decimal(row["qty"]) - Decimal(row["filled_qty"])
            return self._fill(db, row, qty, touch, now, complete=True)
        limit = Decimal(row["limit_price"])
        remaining = Decimal(row["qty"]) - Decimal(row["filled_qty"])
        crosses = limit >= quote.ask if buy else limit <= quote.bid
        if crosses:
            return self._fill(db, row, min(remaining, self.behaviour.displayed_size), touch, now)
        if tick is None:
            return row
        near, far = (quote.bid, quote.ask) if buy else (quote.ask, quote.bid)
        depth = (limit - near) / (far - near)
        if depth <= 0:
            return row
        probability = self.behaviour.inside_fill_probability * float(depth)
        if self._chance(row["client_order_id"], tick) < probability:
            return self._fill(db, row, min(remaining, self.behaviour.displayed_size), limit, now)
        return row

    def _fill(
        self,
        db: sqlite3.Connection,
        row: sqlite3.Row,
        qty: Decimal,
        price: Decimal,
        now: datetime,
        *,
        complete: bool = False,
    ) -> sqlite3.Row:
        symbol, buy = row["symbol"], row["side"] == "buy"
        position = db.execute("SELECT * FROM positions WHERE symbol = ?", (symbol,)).fetchone()
        held = Decimal(position["qty"]) if position else Decimal(0)
        if not buy:
            qty = min(qty, held)
        if qty <= 0:
            return row
        filled_before = Decimal(row["filled_qty"])
        filled = filled_before + qty
        avg_before = Decimal(row["filled_avg_price"]) if row["filled_avg_price"] else Decimal(0)
        avg = ((filled_before * avg_before + qty * price) / filled).quantize(SUB_CENT * CENT)
        filled_notional = Decimal(row["filled_notional"]) + qty * price
        done = complete or (row["qty"] is not None and filled >= Decimal(row["qty"]))
        status = "filled" if done else "partially_filled"
        stamp = iso(now)
        db.execute(
            "UPDATE orders SET filled_qty = ?, filled_notional = ?, filled_avg_price = ?, status = ?, updated_at = ?,"
            " filled_at = CASE WHEN ? THEN ? ELSE filled_at END WHERE id = ?",
            (dec_str(filled), str(filled_notional), dec_str(avg), status, stamp, done, stamp, row["id"]),
        )
        db.execute(
            "INSERT INTO fills (order_id, symbol, side, qty, price, at) VALUES (?, ?, ?, ?, ?, ?)",
            (row["id"], symbol, row["side"], dec_str(qty), dec_str(price), stamp),
        )
        cash = self._cash(db) + (-qty * price if buy else qty * price)
        self._set_meta(db, "cash", str(cash))
        if buy:
            avg_entry = Decimal(position["avg_entry_price"]) if position else Decimal(0)
            new_qty = held + qty
            new_avg = ((held * avg_entry + qty * price) / new_qty).quantize(SUB_CENT * CENT)
            db.execute(
                "INSERT INTO positions (symbol, qty, avg_entry_price) VALUES (?, ?, ?)"
                " ON CONFLICT(symbol) DO UPDATE SET qty = excluded.qty, avg_entry_price = excluded.avg_entry_price",
                (symbol, dec_str(new_qty), dec_str(new_avg)),
            )
        elif held - qty <= 0:
            db.execute("DELETE FROM positions WHERE symbol = ?", (symbol,))
        else:
            db.execute("UPDATE positions SET qty = ? WHERE symbol = ?", (dec_str(held - qty), symbol))
        log.info(
            "sim fill", order_id=row["id"], symbol=symbol, side=row["side"], qty=dec_str(qty), price=dec_str(price)
        )
        return self._order_row(db, row["id"])

    def _force_fill(
        self, db: sqlite3.Connection, row: sqlite3.Row, now: datetime, *, qty: Decimal | None, price: Decimal | None
    ) -> sqlite3.Row:
        quote = self._require_quote(db, row["symbol"], now)
        if price is None:
            if row["limit_price"] is not None:
                price = Decimal(row["limit_price"])
            else:
                price = quote.ask if row["side"] == "buy" else quote.bid
        if row["qty"] is None:
            remaining_cash = Decimal(row["notional"]) - Decimal(row["filled_notional"])
            return self._fill(
                db, row, (remaining_cash / price).quantize(QTY_STEP, rounding=ROUND_DOWN), price, now, complete=True
            )
        remaining = Decimal(row["qty"]) - Decimal(row["filled_qty"])
        return self._fill(db, row, min(qty if qty is not None else remaining, remaining), price, now)

    # ----- time
    def tick(self, count: int = 1) -> int:
        """Expire what is due, then match every open order once (inside-spread luck included)."""
        with self._tx() as db:
            now = self._now(db)
            for _ in range(count):
                self._tick(db, now)
            return int(self._meta(db, "tick") or 0)

    def _tick(self, db: sqlite3.Connection, now: datetime) -> None:
        tick = int(self._meta(db, "tick") or 0) + 1
        self._set_meta(db, "tick", str(tick))
        for row in self._open_orders(db):
            if row["expires_at"] is not None and parse_time(row["expires_at"]) <= now:
                self._finish(db, row, "expired", parse_time(row["expires_at"]))
        if not self._is_open(now):
            return
        for open_row in self._open_orders(db):
            row = open_row
            if row["status"] == "pending_cancel":  # the cancel_fill_race: the fill lands first
                self._force_fill(db, row, now, qty=None, price=None)
                continue
            if row["status"] == "accepted":
                db.execute("UPDATE orders SET status = 'new', updated_at = ? WHERE id = ?", (iso(now), row["id"]))
                row = self._order_row(db, row["id"])
            self._match(db, row, now, tick=tick)

    def set_clock(self, moment: datetime, *, tick: bool = True) -> datetime:
        if moment.tzinfo is None:
            raise SimApiError(422, "the clock needs a timezone-aware time")
        with self._tx() as db:
            self._set_clock(db, moment)
            if tick:
                self._tick(db, moment)
            return self._now(db)

    def advance(self, seconds: float, *, ticks: int = 1) -> datetime:
        """Move the clock forward in `ticks` equal steps, ticking the market after each step."""
        ticks = max(1, ticks)
        with self._tx() as db:
            now = self._now(db)
            step = timedelta(seconds=seconds / ticks)
            for _ in range(ticks):
                now = now + step
                self._set_clock(db, now)
                self._tick(db, now)
            return now

    # ----- controls
    def set_prices(self, prices: Mapping[str, Any]) -> None:
        with self._tx() as db:
            for symbol, price in prices.items():
                value = _decimal(price, "price")
                db.execute(
                    "INSERT INTO price_overrides (symbol, price) VALUES (?, ?)"
                    " ON CONFLICT(symbol) DO UPDATE SET price = excluded.price",
                    (symbol.upper(), str(value)),
                )

    def clear_prices(self) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM price_overrides")

    def fund(self, amount: Decimal) -> Decimal:
        with self._tx() as db:
            cash = self._cash(db) + amount
            self._set_meta(db, "cash", str(cash))
            return cash

    def halt(self, symbol: str, halted: bool = True) -> None:
        with self._tx() as db:
            if halted:
                db.execute("INSERT OR IGNORE INTO halts (symbol) VALUES (?)", (symbol.upper(),))
            else:
                db.execute("DELETE FROM halts WHERE symbol = ?", (symbol.upper(),))

    def fill_order(self, order_id: str, *, qty: Decimal | None = None, price: Decimal | None = None) -> dict[str, Any]:
        """The exchange fills (part of) an open order now, e.g. to race a cancel in a test."""
        with self._tx() as db:
            row = self._order_row(db, order_id)
            if row["status"] not in OPEN_STATUSES:
                raise SimApiError(422, f'order is already in "{row["status"]}" state')
            return order_json(self._force_fill(db, row, self._now(db), qty=qty, price=price))

    def set_behaviour(self, changes: Mapping[str, Any]) -> FillBehaviour:
        with self._lock:
            self.behaviour = self.behaviour.updated(changes)
            return self.behaviour

    def fills(self, order_id: str | None = None) -> list[dict[str, Any]]:
        with self._tx() as db:
            sql, args = "SELECT * FROM fills", []
            if order_id is not None:
                sql, args = sql + " WHERE order_id = ?", [order_id]
            return [dict(row) for row in db.execute(sql + " ORDER BY seq", args)]

    def state(self) -> dict[str, Any]:
        with self._tx() as db:
            now = self._now(db)
            return {
                "clock": iso(now),
                "is_open": self._is_open(now),
                "tick": int(self._meta(db, "tick") or 0),
                "cash": dec_str(self._cash(db)),
                "orders": db.execute("SELECT COUNT(*) FROM orders").fetchone()[0],
                "open_orders": len(self._open_orders(db)),
                "positions": {r["symbol"]: r["qty"] for r in self._positions(db)},
                "behaviour": {f.name: str(getattr(self.behaviour, f.name)) for f in fields(self.behaviour)},
            }


def asset_id(symbol: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"sim-broker/asset/{symbol.upper()}")


def order_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "client_order_id": row["client_order_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "submitted_at": row["submitted_at"],
        "filled_at": row["filled_at"],
        "expired_at": row["expired_at"],
        "expires_at": row["expires_at"],
        "canceled_at": row["canceled_at"],
        "failed_at": None,
        "replaced_at": row["replaced_at"],
        "replaced_by": row["replaced_by"],
        "replaces": row["replaces"],
        "asset_id": str(asset_id(row["symbol"])),
        "symbol": row["symbol"],
        "asset_class": "us_equity",
        "notional": row["notional"],
        "qty": row["qty"],
        "filled_qty": row["filled_qty"],
        "filled_avg_price": row["filled_avg_price"],
        "order_class": "simple",
        "order_type": row["type"],
        "type": row["type"],
        "side": row["side"],
        "time_in_force": row["time_in_force"],
        "limit_price": row["limit_price"],
        "stop_price": None,
        "status": row["status"],
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
    }


def _bar_json(bar: DailyBar) -> dict[str, Any]:
    midnight = datetime.combine(bar.day, time(0), tzinfo=NEW_YORK)
    return {
        "t": iso(midnight),
        "o": float(bar.open),
        "h": float(bar.high),
        "l": float(bar.low),
        "c": float(bar.close),
        "v": float(bar.volume),
        "n": 0,
        "vw": float((bar.high + bar.low + bar.close) / 3),
    }
