"""Numbers as a trader reads them: dollars with cents, weights in percent, quantities without noise."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    """$1,234.56; negative as -$1,234.56."""
    cents = value.quantize(CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def signed_money(value: Decimal) -> str:
    """+$12.34 / -$12.34 / $0.00: for P&L."""
    cents = value.quantize(CENT, rounding=ROUND_HALF_EVEN)
    if cents == 0:
        return "$0.00"
    return f"+{money(cents)}" if cents > 0 else money(cents)


def price(value: Decimal) -> str:
    """Share prices: cents at a dollar and above, four places below (sub-dollar quotes tick finer)."""
    places = Decimal("0.01") if abs(value) >= 1 else Decimal("0.0001")
    return f"${value.quantize(places, rounding=ROUND_HALF_EVEN):,}"


def percent(weight: Decimal) -> str:
    """0.4512 -> 45.1%."""
    return f"{(weight * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN)}%"


def quantity(value: Decimal) -> str:
    """Shares: up to six places, trailing zeros dropped (20, 5.123)."""
    rounded = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def basis_points(value: Decimal) -> str:
    """+1.2 bps (positive = worse than the midpoint at placement)."""
    rounded = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    sign = "+" if rounded > 0 else ""
    return f"{sign}{rounded} bps"


def plain_decimal(value: Decimal) -> str:
    """A Decimal for CSV: fixed point, never scientific notation."""
    return f"{value:f}"
