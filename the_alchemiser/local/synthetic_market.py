"""A deterministic synthetic market: daily OHLCV for any ticker list, correlated through a few factors.

Why it is built this way:
- Every random draw is keyed by (seed, name, calendar date), never by position in the request, so a
  symbol's bar for a given day is the same whatever else is asked for, however many days are asked
  for and whatever the end date (up to float rounding in the compounding, ~1e-15 relative). The
  simulated broker can therefore quote day D at the close the CSV export shows for D.
- Names are hashed with SHA-256 (Python's hash() is salted per process).
- Prices are anchored at ANCHOR_DAY (each symbol has a fixed price there) and compounded both ways, so
  levels stay sensible near the present even for decaying inverse ETFs.
- Leveraged and inverse ETFs are exact daily multiples of their base's close-to-close return; base
  returns are clipped to [-24 %, +30 %] so every multiple in the table keeps prices positive.
- A market volatility state (log-vol, a finite exponential moving sum of dated shocks, correlated
  negatively with equity shocks) scales the factors and drives the VIX-like factor."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from the_alchemiser.shared.calendar import nyse_calendar

FloatArray = npt.NDArray[np.float64]

ANCHOR_DAY = date(2024, 1, 2)  # a trading day; each symbol's close on it is fixed
FACTORS = ("equities", "tech", "bonds", "gold", "volatility", "commodities", "cash")
MIN_BASE_RETURN = -0.24
MAX_BASE_RETURN = 0.30

# Market volatility state: log-vol = VOL_OF_LOGVOL * sum_k w_k e(d - k) over calendar days, w_k ~ PHI^k.
_VOL_MEMORY_DAYS = 400
_VOL_PHI = 0.985
_VOL_OF_LOGVOL = 0.35
_LEVERAGE_CORRELATION = -0.75  # vol shocks vs same-day equity shocks

# Typical daily volatility of each factor (used for intraday ranges of symbols).
_FACTOR_DAILY_VOL = {
    "equities": 0.0105,
    "tech": 0.0135,
    "bonds": 0.0088,
    "gold": 0.0095,
    "volatility": 0.042,
    "commodities": 0.012,
    "cash": 0.00002,
}


@dataclass(frozen=True)
class Exposure:
    """A plain symbol: factor loadings plus its own daily noise."""

    loadings: tuple[tuple[str, float], ...]
    idio: float


@dataclass(frozen=True)
class Leveraged:
    """A leveraged or inverse ETF: `multiple` times `base`'s daily close-to-close return."""

    base: str
    multiple: float


def _e(idio: float, **loadings: float) -> Exposure:
    return Exposure(tuple(loadings.items()), idio)


# Known tickers. Unknown ones get an equity exposure derived from their name (see _default_exposure).
EXPOSURES: dict[str, Exposure] = {
    # broad equities
    "SPY": _e(0.0004, equities=1.0),
    "VOO": _e(0.0005, equities=1.0),
    "IVV": _e(0.0005, equities=1.0),
    "VTI": _e(0.0015, equities=1.02),
    "IYY": _e(0.0015, equities=1.01),
    "IOO": _e(0.004, equities=0.9),
    "RSP": _e(0.003, equities=1.0),
    "DIA": _e(0.003, equities=0.95),
    "IWM": _e(0.007, equities=1.15),
    "MDY": _e(0.005, equities=1.1),
    "IJR": _e(0.007, equities=1.15),
    "AVUV": _e(0.008, equities=1.15),
    "ISCB": _e(0.007, equities=1.12),
    "SPHB": _e(0.008, equities=1.5),
    "SPLV": _e(0.004, equities=0.65),
    "USMV": _e(0.004, equities=0.68),
    "QUAL": _e(0.003, equities=0.95),
    "SCHD": _e(0.004, equities=0.8),
    "DGRO": _e(0.003, equities=0.85),
    "SDY": _e(0.004, equities=0.8),
    "DLN": _e(0.003, equities=0.85),
    "FDL": _e(0.005, equities=0.8),
    "VTV": _e(0.003, equities=0.9),
    "RPV": _e(0.006, equities=1.0),
    "VOOG": _e(0.003, equities=0.5, tech=0.55),
    "VOOV": _e(0.003, equities=0.9),
    "EFA": _e(0.006, equities=0.8),
    "EEM": _e(0.009, equities=0.85),
    "VWO": _e(0.009, equities=0.85),
    "FXI": _e(0.014, equities=0.8),
    "EWZ": _e(0.016, equities=1.0, commodities=0.3),
    "EWG": _e(0.008, equities=0.85),
    "EWU": _e(0.007, equities=0.75),
    "EPI": _e(0.011, equities=0.7),
    "BBH": _e(0.01, equities=0.8),
    "HYG": _e(0.002, equities=0.3, bonds=0.15),
    "SHYG": _e(0.0015, equities=0.2),
    "BTAL": _e(0.005, equities=-0.5),
    "HDGE": _e(0.008, equities=-0.8),
    "FTLS": _e(0.003, equities=0.4),
    # sectors
    "XLF": _e(0.008, equities=1.1),
    "XLE": _e(0.012, equities=0.6, commodities=0.8),
    "VDE": _e(0.012, equities=0.6, commodities=0.8),
    "XLV": _e(0.007, equities=0.75),
    "XLP": _e(0.006, equities=0.55),
    "XLU": _e(0.009, equities=0.5, bonds=0.2),
    "VPU": _e(0.009, equities=0.5, bonds=0.2),
    "XLI": _e(0.006, equities=1.05),
    "XLY": _e(0.007, equities=0.6, tech=0.5),
    "XLRE": _e(0.009, equities=0.85, bonds=0.25),
    "IYR": _e(0.009, equities=0.85, bonds=0.25),
    "XBI": _e(0.017, equities=1.2),
    "XHB": _e(0.013, equities=1.3),
    "ITB": _e(0.013, equities=1.3),
    "XRT": _e(0.011, equities=1.2),
    "VOX": _e(0.008, equities=0.5, tech=0.5),
    "IYK": _e(0.006, equities=0.55),
    # tech
    "QQQ": _e(0.0, tech=1.0),
    "QQQE": _e(0.004, tech=0.95),
    "XLK": _e(0.003, tech=1.05),
    "VGT": _e(0.003, tech=1.07),
    "SOXX": _e(0.011, tech=1.45),
    "SMH": _e(0.011, tech=1.45),
    "FDN": _e(0.008, tech=1.1),
    "FNGS": _e(0.01, tech=1.3),
    "IGV": _e(0.008, tech=1.1),
    "ARKK": _e(0.018, tech=1.6),
    "CIBR": _e(0.007, tech=1.0),
    "AIQ": _e(0.006, tech=1.1),
    "AAPL": _e(0.012, tech=1.1),
    "MSFT": _e(0.011, tech=1.0),
    "NVDA": _e(0.025, tech=1.8),
    "AMD": _e(0.025, tech=1.7),
    "AVGO": _e(0.018, tech=1.4),
    "GOOG": _e(0.014, tech=1.05),
    "GOOGL": _e(0.014, tech=1.05),
    "META": _e(0.02, tech=1.3),
    "AMZN": _e(0.016, tech=1.2),
    "NFLX": _e(0.022, tech=1.2),
    "TSLA": _e(0.03, tech=1.8),
    "ADBE": _e(0.016, tech=1.1),
    "CRM": _e(0.016, tech=1.1),
    "CSCO": _e(0.011, tech=0.8),
    "IBM": _e(0.011, tech=0.6),
    "PLTR": _e(0.035, tech=1.8),
    "MSTR": _e(0.045, tech=2.0),
    "COIN": _e(0.04, tech=2.0),
    "IBIT": _e(0.032, tech=1.2),
    "GBTC": _e(0.033, tech=1.2),
    "BITO": _e(0.032, tech=1.2),
    "BLOK": _e(0.02, tech=1.5),
    "WGMI": _e(0.04, tech=2.0),
    # long and intermediate bonds
    "TLT": _e(0.0, bonds=1.0),
    "VGLT": _e(0.001, bonds=0.85),
    "SPTL": _e(0.001, bonds=0.85),
    "EDV": _e(0.002, bonds=1.25),
    "TLH": _e(0.001, bonds=0.8),
    "IEF": _e(0.0008, bonds=0.45),
    "VGIT": _e(0.0007, bonds=0.38),
    "IEI": _e(0.0006, bonds=0.32),
    "AGG": _e(0.0008, bonds=0.35),
    "BND": _e(0.0008, bonds=0.35),
    "SCHZ": _e(0.0008, bonds=0.35),
    "BNDX": _e(0.0012, bonds=0.3),
    "LQD": _e(0.002, bonds=0.55, equities=0.1),
    "IGIB": _e(0.0015, bonds=0.4, equities=0.08),
    "CORP": _e(0.0015, bonds=0.45, equities=0.08),
    "TIP": _e(0.001, bonds=0.35),
    "STIP": _e(0.0006, bonds=0.1),
    "VTIP": _e(0.0006, bonds=0.1),
    "STPZ": _e(0.0006, bonds=0.1),
    "SHY": _e(0.0002, bonds=0.12),
    "VGSH": _e(0.0002, bonds=0.12),
    "BSV": _e(0.0003, bonds=0.15),
    "EMB": _e(0.003, bonds=0.4, equities=0.2),
    "BWX": _e(0.003, bonds=0.35),
    "BOND": _e(0.001, bonds=0.4),
    # cash-like and currencies
    "BIL": _e(0.00003, cash=1.0),
    "SHV": _e(0.00005, cash=1.0),
    "SGOV": _e(0.00003, cash=1.0),
    "GBIL": _e(0.00004, cash=1.0),
    "UUP": _e(0.004, cash=1.0, equities=-0.1),
    "USDU": _e(0.004, cash=1.0, equities=-0.1),
    "UDN": _e(0.004, cash=1.0, equities=0.1),
    "FXE": _e(0.005, cash=1.0),
    "FXY": _e(0.005, cash=1.0, bonds=0.1),
    # gold and metals
    "GLD": _e(0.0, gold=1.0),
    "IAU": _e(0.0001, gold=1.0),
    "GLTR": _e(0.003, gold=1.1),
    "SLV": _e(0.011, gold=1.3),
    "GDX": _e(0.013, gold=2.0, equities=0.3),
    # commodities and managed futures
    "DBC": _e(0.0, commodities=1.0),
    "PDBC": _e(0.001, commodities=1.0),
    "FTGC": _e(0.003, commodities=0.9),
    "USO": _e(0.013, commodities=1.7),
    "DBO": _e(0.01, commodities=1.5),
    "DBE": _e(0.01, commodities=1.4),
    "DBA": _e(0.006, commodities=0.5),
    "DBB": _e(0.009, commodities=0.8, equities=0.2),
    "UNG": _e(0.03, commodities=1.3),
    "FCG": _e(0.02, commodities=1.5, equities=0.3),
    "XOM": _e(0.011, commodities=0.8, equities=0.3),
    "KMLM": _e(0.007, commodities=0.3),
    "CTA": _e(0.006, commodities=0.25),
    "DBMF": _e(0.006, commodities=0.25),
    "WTMF": _e(0.006, commodities=0.25),
    # volatility (VIX futures-like)
    "VIXY": _e(0.0, volatility=1.0),
    "VXX": _e(0.0005, volatility=1.0),
    "VIXM": _e(0.004, volatility=0.45),
}

_LEVERAGED_BY_BASE: dict[str, dict[str, float]] = {
    "QQQ": {"TQQQ": 3, "SQQQ": -3, "QLD": 2, "QID": -2, "PSQ": -1},
    "SPY": {
        "UPRO": 3,
        "SPXL": 3,
        "SPXS": -3,
        "SPXU": -3,
        "SSO": 2,
        "SDS": -2,
        "SH": -1,
        "SPYU": 4,
    },
    "XLK": {"TECL": 3, "TECS": -3, "ROM": 2},
    "SOXX": {"SOXL": 3, "SOXS": -3, "USD": 2},
    "TLT": {"TMF": 3, "TMV": -3, "UBT": 2, "TBT": -2, "TBF": -1, "TTT": -3},
    "IEF": {"TYD": 3, "TYO": -3, "PST": -2, "TBX": -1},
    "VIXY": {"UVXY": 1.5, "UVIX": 2, "SVXY": -0.5, "SVIX": -1},
    "IWM": {"TNA": 3, "TZA": -3, "URTY": 3, "SRTY": -3, "UWM": 2, "RWM": -1},
    "DIA": {"UDOW": 3, "SDOW": -3, "DDM": 2, "DXD": -2, "DOG": -1},
    "XBI": {"LABU": 3, "LABD": -3},
    "XLF": {"FAS": 3, "FAZ": -3, "UYG": 2},
    "XLE": {"ERX": 2, "ERY": -2, "DIG": 2},
    "XLV": {"CURE": 3},
    "XLRE": {"DRN": 3, "DRV": -3},
    "XLU": {"UTSL": 3, "UPW": 2},
    "XLP": {"UGE": 2},
    "XHB": {"NAIL": 3},
    "XRT": {"RETL": 3},
    "SPHB": {"HIBL": 3},
    "FNGS": {"FNGU": 3, "FNGD": -3, "FNGO": 2, "FNGG": 2, "BULZ": 3},
    "FDN": {"WEBL": 3, "WEBS": -3},
    "EEM": {"EDC": 3, "EDZ": -3, "EET": 2},
    "FXI": {"YINN": 3, "YANG": -3},
    "GLD": {"UGL": 2, "GLL": -2},
    "GDX": {"NUGT": 2, "DUST": -2, "GDXU": 3},
    "SLV": {"AGQ": 2, "ZSL": -2},
    "USO": {"UCO": 2, "SCO": -2, "OILD": -3},
    "UNG": {"BOIL": 2, "KOLD": -2},
    "ARKK": {"TARK": 2, "SARK": -1},
    "COIN": {"CONL": 2},
    "MDY": {"MVV": 2, "MZZ": -2},
    "IJR": {"SAA": 2},
    "FXE": {"EUO": -2, "ULE": 2},
    "FXY": {"YCS": -2, "YCL": 2},
}
LEVERAGED: dict[str, Leveraged] = {
    lev: Leveraged(base, multiple) for base, pairs in _LEVERAGED_BY_BASE.items() for lev, multiple in pairs.items()
}


def _check_tables() -> None:
    for name, lev in LEVERAGED.items():
        worst = lev.multiple * (MIN_BASE_RETURN if lev.multiple > 0 else MAX_BASE_RETURN)
        if worst <= -1 or lev.base in LEVERAGED:
            raise ValueError(f"leveraged table entry {name} could make prices non-positive or chains")
    for name, exposure in EXPOSURES.items():
        unknown = {f for f, _ in exposure.loadings} - set(FACTORS)
        if unknown:
            raise ValueError(f"{name} loads unknown factors {unknown}")


_check_tables()


# ---------------------------------------------------------------------------------------------------
# Dated random draws


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def _name_uniforms(seed: int, name: str, count: int) -> FloatArray:
    """Per-name constants (price level, volume level, default exposure)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _name_key(name), 0])))
    return rng.random(count)


def _dated_normals(seed: int, name: str, days: npt.NDArray[np.datetime64], width: int) -> FloatArray:
    """Standard normals of shape (len(days), width); row for day d depends only on (seed, name, d)."""
    out = np.empty((len(days), width))
    years = days.astype("datetime64[Y]")
    day_of_year = (days - years.astype("datetime64[D]")).astype(np.int64)
    key = _name_key(name)
    for year in np.unique(years):
        rows = years == year
        year_number = int(year.astype(np.int64)) + 1970
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key, year_number, width])))
        out[rows] = rng.standard_normal((366, width))[day_of_year[rows]]
    return out


# ---------------------------------------------------------------------------------------------------
# Factors


@dataclass(frozen=True)
class _FactorPaths:
    returns: dict[str, FloatArray]  # simple daily returns on the trading-day axis
    vol_scale: FloatArray  # market volatility relative to normal (mean ~1), known before the day opens


def _factor_paths(
    seed: int, trading_days: npt.NDArray[np.datetime64], previous_trading_day: np.datetime64
) -> _FactorPaths:
    first = previous_trading_day - np.timedelta64(_VOL_MEMORY_DAYS + 7, "D")
    calendar_days = np.arange(first, trading_days[-1] + np.timedelta64(1, "D"), dtype="datetime64[D]")

    def shocks(factor: str) -> FloatArray:
        return _dated_normals(seed, f"factor:{factor}", calendar_days, 1)[:, 0]

    z_eq = shocks("equities")
    vol_shock = _LEVERAGE_CORRELATION * z_eq + math.sqrt(1 - _LEVERAGE_CORRELATION**2) * shocks("market-vol")
    weights = _VOL_PHI ** np.arange(_VOL_MEMORY_DAYS)
    weights /= math.sqrt(float(np.sum(weights**2)))
    # log_vol[i] is the state at the end of calendar day i (first _VOL_MEMORY_DAYS - 1 days have no state)
    log_vol_valid = _VOL_OF_LOGVOL * np.convolve(vol_shock, weights, mode="valid")
    log_vol = np.full(len(calendar_days), np.nan)
    log_vol[_VOL_MEMORY_DAYS - 1 :] = log_vol_valid

    index = (trading_days - calendar_days[0]).astype(np.int64)
    # the state at the end of the calendar day before each trading day, and at the end of the day itself
    state_before = log_vol[index - 1]
    state_after = log_vol[index]
    # the state at the previous trading day's close
    previous_index = int((previous_trading_day - calendar_days[0]).astype(np.int64))
    state_prev_close = np.concatenate(([log_vol[previous_index]], state_after[:-1]))
    vol_scale = np.exp(state_before - _VOL_OF_LOGVOL**2 / 2)

    def z(factor: str) -> FloatArray:
        series = z_eq if factor == "equities" else shocks(factor)
        picked: FloatArray = series[index]
        return picked

    ze, zt, zb, zg, zc, zv, zk = (
        z(f) for f in ("equities", "tech", "bonds", "gold", "commodities", "volatility", "cash")
    )
    r_eq = 0.00035 + 0.0105 * vol_scale * ze
    r_tech = 1.1 * r_eq + 0.0001 + 0.0065 * vol_scale * zt
    r_bonds = 0.00012 + 0.0088 * vol_scale**0.3 * (-0.2 * ze + 0.98 * zb)
    r_gold = 0.00025 + 0.0095 * vol_scale**0.3 * (0.05 * ze + 0.1 * zb + 0.994 * zg)
    r_comm = 0.0001 + 0.012 * vol_scale**0.5 * (0.35 * ze + 0.15 * zg + 0.925 * zc)
    # VIX-futures-like: moves with the vol state (so against equities), decays in contango
    r_vol = -0.0022 + 0.6 * (state_after - state_prev_close) + 0.02 * zv
    r_cash = 0.045 / 252 + 0.00002 * zk
    returns = {
        "equities": r_eq,
        "tech": r_tech,
        "bonds": r_bonds,
        "gold": r_gold,
        "volatility": r_vol,
        "commodities": r_comm,
        "cash": r_cash,
    }
    return _FactorPaths(returns=returns, vol_scale=vol_scale)


# ---------------------------------------------------------------------------------------------------
# Symbols


def _default_exposure(seed: int, symbol: str) -> Exposure:
    """Unknown tickers: a single stock with a name-derived beta to equities and its own noise."""
    u = _name_uniforms(seed, f"exposure:{symbol}", 2)
    return Exposure((("equities", 0.7 + 0.7 * float(u[0])),), 0.010 + 0.012 * float(u[1]))


def exposure_of(symbol: str, seed: int = 7) -> Exposure | Leveraged:
    """How `symbol` is generated: its leveraged base, its known exposure, or the default for unknowns."""
    key = symbol.upper()
    if key in LEVERAGED:
        return LEVERAGED[key]
    return EXPOSURES.get(key) or _default_exposure(seed, key)


def _nominal_vol(exposure: Exposure) -> float:
    return math.sqrt(sum((beta * _FACTOR_DAILY_VOL[f]) ** 2 for f, beta in exposure.loadings) + exposure.idio**2)


class _SymbolReturns:
    """Daily simple returns and nominal volatility per symbol, computed once per request."""

    def __init__(self, seed: int, trading_days: npt.NDArray[np.datetime64], factors: _FactorPaths) -> None:
        self._seed = seed
        self._days = trading_days
        self._factors = factors
        self._cache: dict[str, tuple[FloatArray, float]] = {}

    def get(self, symbol: str) -> tuple[FloatArray, float]:
        key = symbol.upper()
        if key not in self._cache:
            self._cache[key] = self._compute(key)
        return self._cache[key]

    def _compute(self, key: str) -> tuple[FloatArray, float]:
        spec = exposure_of(key, self._seed)
        if isinstance(spec, Leveraged):
            base_returns, base_vol = self.get(spec.base)
            return spec.multiple * base_returns, abs(spec.multiple) * base_vol
        returns = np.zeros(len(self._days))
        for factor, beta in spec.loadings:
            returns += beta * self._factors.returns[factor]
        if spec.idio:
            noise = _dated_normals(self._seed, f"idio:{key}", self._days, 1)[:, 0]
            returns += spec.idio * self._factors.vol_scale**0.6 * noise
        return np.clip(returns, MIN_BASE_RETURN, MAX_BASE_RETURN), _nominal_vol(spec)


def _trading_days(end: date, days: int) -> list[date]:
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    calendar = nyse_calendar()
    last = calendar.latest_trading_day(end)
    start = last - timedelta(days=int(days * 1.5) + 10)
    try:
        sessions = calendar.trading_days(start, last)
    except Exception as exc:  # exchange_calendars raises its own range errors
        raise ValueError(f"cannot build {days} trading days ending {last}: {exc}") from exc
    if len(sessions) < days:
        raise ValueError(f"the NYSE calendar has only {len(sessions)} trading days up to {last}, asked for {days}")
    return sessions[-days:]


def generate_market(symbols: Sequence[str], *, end: date, days: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Daily bars for `days` NYSE trading days ending on the last trading day <= `end`.

    Returns {symbol: frame} (keys as given, duplicates once); each frame has a tz-naive midnight
    DatetimeIndex named `date` (sorted, unique) and float columns open, high, low, close, volume.
    Same arguments give the same data; a symbol's bars do not depend on the other symbols asked for."""
    window = _trading_days(end, days)
    calendar = nyse_calendar()
    # The span covers the anchor day, so prices compound from a fixed level there.
    span_start, span_end = min(window[0], ANCHOR_DAY), max(window[-1], ANCHOR_DAY)
    span = calendar.trading_days(span_start, span_end) if span_start < window[0] or span_end > window[-1] else window
    span_days = np.array(span, dtype="datetime64[D]")
    window_days = np.array(window, dtype="datetime64[D]")
    window_slice = slice(int(np.searchsorted(span_days, window_days[0])), len(span_days))
    window_slice = slice(window_slice.start, window_slice.start + len(window_days))
    anchor_index = int(np.searchsorted(span_days, np.datetime64(ANCHOR_DAY, "D")))

    previous_day = np.datetime64(calendar.previous_trading_day(span[0]), "D")
    factors = _factor_paths(seed, span_days, previous_day)
    symbol_returns = _SymbolReturns(seed, span_days, factors)
    index = pd.DatetimeIndex(window_days.astype("datetime64[ns]"), name="date")
    vol_scale = factors.vol_scale[window_slice]

    market: dict[str, pd.DataFrame] = {}
    for symbol in dict.fromkeys(symbols):
        key = symbol.upper()
        returns, nominal = symbol_returns.get(key)
        log_returns = np.log1p(returns)
        cumulative = np.cumsum(log_returns)
        level = _name_uniforms(seed, f"level:{key}", 2)
        anchor_price = float(np.exp(np.log(15.0) + float(level[0]) * np.log(400.0 / 15.0)))
        close_all = anchor_price * np.exp(cumulative - cumulative[anchor_index])
        close = close_all[window_slice]
        day_log_return = log_returns[window_slice]
        previous_close = close / np.exp(day_log_return)

        noise = _dated_normals(seed, f"bar:{key}", window_days, 4)
        day_vol = nominal * vol_scale
        open_ = previous_close * np.exp(0.35 * day_log_return + 0.25 * day_vol * noise[:, 0])
        high = np.maximum(open_, close) * np.exp(0.5 * day_vol * np.abs(noise[:, 1]))
        low = np.minimum(open_, close) * np.exp(-0.5 * day_vol * np.abs(noise[:, 2]))
        base_volume = float(np.exp(np.log(3e5) + float(level[1]) * np.log(100.0)))
        surprise = np.abs(day_log_return) / max(nominal, 1e-6)
        volume = np.round(base_volume * np.exp(0.25 * noise[:, 3] + 0.5 * np.log(vol_scale) + 0.15 * surprise))
        market[symbol] = pd.DataFrame(
            {"open": open_, "high": high, "low": low, "close": close, "volume": volume.astype(np.float64)},
            index=index,
        )
    return market
