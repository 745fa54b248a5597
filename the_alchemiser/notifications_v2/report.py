"""The daily report: one per workflow outcome, from the ledger's booking of the plan and the lot book.

The P&L method is the ledger's (shared/ledger/book.py): per-strategy lots, first in first out; this
module only lays it out. One CSV, parsed back by any CSV reader, with a `section` column:
- `trade`: every movement of the day per strategy (buys, sells, transfers between strategies, shares
  first seen or sold outside the system) with its value, the cost basis it relieved and what it realised;
- `position`: every strategy's holdings after the day: open lots, cost, value at the day's prices,
  unrealised and realised (since the first run) P&L.
Money is in cents (rounded half-even from the ledger's Decimals), quantities at the broker's share
precision (9 places), prices to 4 places."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from the_alchemiser.shared.ledger.book import (
    EXTERNAL,
    Book,
    Booking,
    BookingRef,
    Movement,
    MovementKind,
    OwnerPnl,
    owner_order,
    positions_view,
)

CENT = Decimal("0.01")
PRICE_PLACES = Decimal("0.0001")
_ZERO = Decimal(0)

REPORT_COLUMNS = (
    "trading_date",
    "correlation_id",
    "section",
    "strategy",
    "symbol",
    "kind",
    "qty",
    "price",
    "value",
    "cost_basis",
    "realised_pnl",
    "market_value",
    "unrealised_pnl",
    "lots",
    "client_order_ids",
)
# the order movements are listed in: the account's own changes, then the day's sells, transfers, buys
_KIND_ORDER = (
    MovementKind.FIRST_SEEN,
    MovementKind.SOLD_OUTSIDE,
    MovementKind.SELL,
    MovementKind.TRANSFER_OUT,
    MovementKind.TRANSFER_IN,
    MovementKind.BUY,
)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{cents(value):f}"


def _qty(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _price(value: Decimal | None) -> str:
    return "" if value is None else f"{value.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN):f}"


@dataclass(frozen=True)
class StrategyDay:
    """One strategy's day: what it bought and sold (transfers included), realised, and holds now."""

    strategy: str
    bought: Decimal
    sold: Decimal
    realised: Decimal
    symbols: tuple[str, ...]
    position: OwnerPnl | None


@dataclass(frozen=True)
class EquityPoint:
    trading_date: date
    equity: Decimal  # after the day's last booked plan, at its prices (fees aside)


@dataclass(frozen=True)
class DailyReport:
    booking: Booking
    positions: tuple[OwnerPnl, ...]
    equity_curve: tuple[EquityPoint, ...] = ()  # the account to this day, one point per trading day

    @property
    def correlation_id(self) -> str:
        return self.booking.correlation_id

    @property
    def trading_date(self) -> date:
        return self.booking.trading_date

    def movements(self) -> list[Movement]:
        return sorted(
            self.booking.movements, key=lambda m: (_KIND_ORDER.index(m.kind), m.symbol, m.owner == EXTERNAL, m.owner)
        )

    @property
    def realised_today(self) -> Decimal:
        return sum((m.realised for m in self.booking.movements if m.realised is not None), _ZERO)

    def by_strategy(self) -> list[StrategyDay]:
        """Every owner that moved today or holds something, strategies by name, external last."""
        positions = {p.owner: p for p in self.positions}
        owners = owner_order([*positions, *(m.owner for m in self.booking.movements)])
        days = []
        for owner in owners:
            moved = [m for m in self.booking.movements if m.owner == owner]
            days.append(
                StrategyDay(
                    strategy=owner,
                    bought=sum((m.value for m in moved if m.kind.acquires), _ZERO),
                    sold=sum((m.value for m in moved if not m.kind.acquires), _ZERO),
                    realised=sum((m.realised for m in moved if m.realised is not None), _ZERO),
                    symbols=tuple(sorted({m.symbol for m in moved})),
                    position=positions.get(owner),
                )
            )
        return days

    def rows(self) -> list[list[str]]:
        day, correlation = self.trading_date.isoformat(), self.correlation_id
        rows = []
        for m in self.movements():
            rows.append(
                [
                    day,
                    correlation,
                    "trade",
                    m.owner,
                    m.symbol,
                    m.kind.value,
                    _qty(m.qty),
                    _price(m.price),
                    _money(m.value),
                    _money(m.cost_basis),
                    _money(m.realised),
                    "",
                    "",
                    "",
                    " ".join(m.client_order_ids),
                ]
            )
        for owner in self.positions:
            for line in owner.positions:
                rows.append(
                    [
                        day,
                        correlation,
                        "position",
                        line.owner,
                        line.symbol,
                        "open" if line.qty > 0 else "closed",
                        _qty(line.qty),
                        _price(line.mark),
                        "",
                        _money(line.cost),
                        _money(line.realised),
                        _money(line.market_value),
                        _money(line.unrealised),
                        str(line.lots),
                        "",
                    ]
                )
        return rows

    def to_csv(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        writer.writerows(self.rows())
        return buffer.getvalue().encode()


def build_daily_report(booking: Booking, book: Book) -> DailyReport:
    """The report of one booked plan; positions valued at the booking's prices."""
    return DailyReport(
        booking=booking,
        positions=tuple(positions_view(book, booking.marks)),
        equity_curve=equity_curve(book.history, booking),
    )


def equity_curve(history: Sequence[BookingRef], booking: Booking) -> tuple[EquityPoint, ...]:
    """The equity the ledger recorded after each booked plan up to this one (later bookings left out:
    a late report shows its own day), the last plan of a trading day standing for the day."""
    refs = list(history)
    mine = [i for i, ref in enumerate(refs) if ref.correlation_id == booking.correlation_id]
    if mine:
        refs = refs[: mine[-1] + 1]
    else:  # a booking the history does not have (booked before it was kept): up to its day, then it
        refs = [ref for ref in refs if ref.trading_date < booking.trading_date]
        refs.append(
            BookingRef(
                correlation_id=booking.correlation_id,
                trading_date=booking.trading_date,
                equity=booking.account.equity_after,
            )
        )
    by_day = {ref.trading_date: ref.equity for ref in refs}
    return tuple(EquityPoint(day, equity) for day, equity in sorted(by_day.items()))


def report_key(trading_date: date, correlation_id: str, extension: str = "csv") -> str:
    """Deterministic S3 key: the same workflow always writes (and overwrites) the same object
    (`extension` html: the day's page beside the CSV)."""
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", correlation_id)
    return f"reports/{trading_date.isoformat()}/{safe_id}.{extension}"


def parse_report(body: bytes) -> Sequence[dict[str, str]]:
    """The CSV back as rows of strings (for tests and tools)."""
    return list(csv.DictReader(io.StringIO(body.decode())))
