"""The 30-order market that the thirty-orders test and `benchmarks/execution.py` both trade: one table, so
the benchmark's figures stay about the plan the test checks.

30 symbols at fixed mid prices: the first ten are the account's holdings (HELD), the other twenty new."""

from __future__ import annotations

from decimal import Decimal

D = Decimal

PRICES: dict[str, Decimal] = {
    symbol: D(price)
    for symbol, price in [
        ("SPY", "500.00"), ("QQQ", "430.00"), ("IWM", "205.40"), ("EFA", "78.15"), ("EEM", "41.27"),
        ("VTI", "260.10"), ("VEA", "49.88"), ("VWO", "43.12"), ("AGG", "97.35"), ("LQD", "108.60"),
        ("HYG", "77.42"), ("XLE", "88.90"), ("XLF", "41.05"), ("XLV", "145.70"), ("XLK", "210.33"),
        ("XLY", "180.25"), ("XLP", "77.80"), ("XLI", "120.45"), ("XLU", "68.20"), ("XLB", "88.10"),
        ("IEF", "95.60"), ("SHY", "82.05"), ("TIP", "108.90"), ("VNQ", "85.75"), ("DBC", "22.35"),
        ("UUP", "28.70"), ("SLV", "26.40"), ("GLD", "215.00"), ("TLT", "92.00"), ("BIL", "91.50"),
    ]
}  # fmt: skip
SYMBOLS = list(PRICES)
HELD = SYMBOLS[:10]
