"""The account as the planner sees it: one immutable value read from the broker at one moment."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from the_alchemiser.shared.broker.models import Position, Quote


class PriceSource(StrEnum):
    MIDPOINT = "midpoint"  # two-sided quote
    POSITION_PRICE = "position_price"  # the broker's current price for a held position
    ASK = "ask"  # one-sided quote, ask only: what a buy would pay
    BID = "bid"  # one-sided quote, bid only


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HeldPosition(_Value):
    symbol: str
    qty: Decimal  # exactly as the broker reports it: liquidations sell this, never a rounded copy
    market_value: Decimal
    current_price: Decimal

    @model_validator(mode="after")
    def _long_only(self) -> HeldPosition:
        if self.qty < 0:
            raise ValueError(f"{self.symbol}: short position ({self.qty}); this system holds long positions only")
        return self


class SymbolState(_Value):
    """What the planner needs per symbol besides the position: a sizing price and tradability."""

    symbol: str
    price: Decimal | None  # None when nothing usable was found: the planner names it in an error
    price_source: PriceSource | None
    fractionable: bool
    tradable: bool = True
    bid: Decimal | None = None
    ask: Decimal | None = None


class PortfolioSnapshot(_Value):
    """Account, positions and per-symbol prices for every held and targeted symbol."""

    as_of: AwareDatetime
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    positions: dict[str, HeldPosition]
    symbols: dict[str, SymbolState]

    @property
    def spendable_cash(self) -> Decimal:
        """Cash that can pay for buys now: never margin, never more than the broker would allow."""
        return min(self.cash, self.buying_power)

    def held_qty(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return position.qty if position is not None else Decimal(0)


def sizing_price(quote: Quote | None, position: Position | HeldPosition | None) -> tuple[Decimal, PriceSource] | None:
    """The price to size a trade with: the midpoint when two-sided, else the position's current
    price, else whichever side of the quote exists. None when nothing is usable (never a silent 0)."""
    if quote is not None and quote.midpoint is not None:
        return quote.midpoint, PriceSource.MIDPOINT
    if position is not None and position.current_price > 0:
        return position.current_price, PriceSource.POSITION_PRICE
    if quote is not None and quote.ask > 0:
        return quote.ask, PriceSource.ASK
    if quote is not None and quote.bid > 0:
        return quote.bid, PriceSource.BID
    return None
