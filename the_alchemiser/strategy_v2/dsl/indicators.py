"""Indicators over one close series, exactly as dsl.md defines them.

Each function takes the closes (oldest first) and returns an array of the same length whose value at i
is the indicator as of close i, NaN while the history is too short. Units: RSI 0-100; returns,
drawdowns and stdev-return in percent; prices in dollars. RSI and EMA run over all the history given.
`IndicatorSpec` names an indicator with its parameters and says how many closes it needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = np.ndarray

# Minimum closes per indicator as a function of its window (dsl.md, edge rules).
_NEED_EXTRA = {
    "current-price": None,
    "moving-average-price": 0,
    "exponential-moving-average-price": 0,
    "stdev-price": 0,
    "max-drawdown": 0,
    "rsi": 1,
    "cumulative-return": 1,
    "moving-average-return": 1,
    "stdev-return": 1,
}
PPO = "percentage-price-oscillator"
PPO_SIGNAL = "percentage-price-oscillator-signal"
INDICATORS = frozenset([*_NEED_EXTRA, PPO, PPO_SIGNAL])


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """An indicator with its parameters, without the series it applies to (value semantics)."""

    name: str
    window: int = 1
    short: int = 12
    long: int = 26
    smooth: int = 9

    @property
    def need(self) -> int:
        """Closes needed before the indicator is defined."""
        if self.name == PPO:
            return max(self.short, self.long)
        if self.name == PPO_SIGNAL:
            return max(self.short, self.long) + self.smooth - 1
        extra = _NEED_EXTRA[self.name]
        return 1 if extra is None else self.window + extra

    @property
    def label(self) -> str:
        if self.name in (PPO, PPO_SIGNAL):
            suffix = f" {self.smooth}" if self.name == PPO_SIGNAL else ""
            return f"{self.name}({self.short}/{self.long}{suffix})"
        if self.name == "current-price":
            return self.name
        return f"{self.name}({self.window})"


def _empty(x: FloatArray) -> FloatArray:
    return np.full(len(x), np.nan)


def _windows(x: FloatArray, window: int) -> FloatArray:
    """sliding_window_view(x, window): the same read-only view, built directly for a contiguous float array
    (numpy's helper costs tens of microseconds a call, and the engine makes thousands)."""
    if x.ndim != 1 or x.dtype != np.float64 or not x.flags.c_contiguous or window > len(x) or window < 1:
        return sliding_window_view(x, window)
    step = x.itemsize
    view = np.ndarray((len(x) - window + 1, window), np.float64, buffer=x, strides=(step, step))
    view.flags.writeable = False
    return view


def current_price(x: FloatArray, window: int) -> FloatArray:
    return np.asarray(x, dtype=float).copy()


def moving_average_price(x: FloatArray, window: int) -> FloatArray:
    out = _empty(x)
    if len(x) >= window:
        out[window - 1 :] = _windows(x, window).mean(axis=1)
    return out


def stdev_price(x: FloatArray, window: int) -> FloatArray:
    out = _empty(x)
    if len(x) >= window:
        out[window - 1 :] = _windows(x, window).std(axis=1)
    return out


def _returns(x: FloatArray) -> FloatArray:
    returns: FloatArray = x[1:] / x[:-1] - 1.0
    return returns


def cumulative_return(x: FloatArray, window: int) -> FloatArray:
    out = _empty(x)
    if len(x) > window:
        out[window:] = (x[window:] / x[:-window] - 1.0) * 100.0
    return out


def moving_average_return(x: FloatArray, window: int) -> FloatArray:
    out = _empty(x)
    if len(x) > window:
        out[window:] = _windows(_returns(x), window).mean(axis=1) * 100.0
    return out


def stdev_return(x: FloatArray, window: int) -> FloatArray:
    out = _empty(x)
    if len(x) > window:
        out[window:] = _windows(_returns(x), window).std(axis=1) * 100.0
    return out


def max_drawdown(x: FloatArray, window: int) -> FloatArray:
    out = _empty(x)
    if len(x) >= window:
        windows = _windows(x, window)
        running_max = np.maximum.accumulate(windows, axis=1)
        out[window - 1 :] = (1.0 - windows / running_max).max(axis=1) * 100.0
    return out


# Block length limit for the closed-form recurrence: keep**-block stays below this growth.
_MAX_GROWTH = 1e100


@lru_cache(maxsize=64)
def _block_powers(keep: float) -> tuple[int, FloatArray]:
    """The block length for `keep` and keep**1 .. keep**block (read-only: shared by every call)."""
    block = max(1, int(np.log(_MAX_GROWTH) / -np.log(keep)))
    powers = keep ** np.arange(1, block + 1)
    powers.flags.writeable = False
    return block, powers


def smooth(seed: float, values: FloatArray, keep: float) -> FloatArray:
    """[seed, y1, y2, ...] with y_k = keep * y_(k-1) + (1 - keep) * values[k-1].

    Non-negative values (prices, gains, losses) use the closed form per block,
    y_(s+j) = keep^j * (y_s + (1-keep) * sum_i values_i * keep^-i): a sum of non-negative terms, so
    the result matches the step-by-step loop to ~1e-13 relative. Values of either sign (a PPO signal)
    run the plain loop, free of cancellation."""
    values = np.asarray(values, dtype=float)
    out = np.empty(len(values) + 1)
    out[0] = seed
    if len(values) == 0:
        return out
    if keep == 0.0:
        out[1:] = values
        return out
    if seed < 0 or values.min() < 0:
        level = seed
        rest = []
        for value in values.tolist():
            level = keep * level + (1.0 - keep) * value
            rest.append(level)
        out[1:] = rest
        return out
    block, powers = _block_powers(keep)
    level = seed
    for start in range(0, len(values), block):
        chunk = values[start : start + block]
        p = powers[: len(chunk)]
        out[start + 1 : start + 1 + len(chunk)] = p * (level + (1.0 - keep) * np.cumsum(chunk / p))
        level = out[start + len(chunk)]
    return out


def exponential_moving_average(x: FloatArray, window: int) -> FloatArray:
    """alpha = 2/(N+1), seeded with the mean of the first N values, then run over all of them."""
    out = _empty(x)
    if len(x) < window:
        return out
    alpha = 2.0 / (window + 1.0)
    out[window - 1 :] = smooth(float(np.mean(x[:window])), x[window:], 1.0 - alpha)
    return out


def _wilder(values: FloatArray, window: int) -> FloatArray:
    """Wilder's smoothing: seed = mean of the first N values, then avg = (prev*(N-1) + x)/N."""
    return smooth(float(np.mean(values[:window])), values[window:], (window - 1.0) / window)


def rsi(x: FloatArray, window: int) -> FloatArray:
    out = _empty(x)
    if len(x) <= window:
        return out
    changes = np.diff(x)
    gain = _wilder(np.maximum(changes, 0.0), window)
    loss = _wilder(np.maximum(-changes, 0.0), window)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + gain / loss)
    value = np.where(loss == 0.0, np.where(gain == 0.0, 50.0, 100.0), value)
    out[window:] = value
    return out


def percentage_price_oscillator(x: FloatArray, short: int, long: int) -> FloatArray:
    fast = exponential_moving_average(x, short)
    slow = exponential_moving_average(x, long)
    with np.errstate(divide="ignore", invalid="ignore"):
        ppo: FloatArray = (fast - slow) / slow * 100.0
    return ppo


def percentage_price_oscillator_signal(x: FloatArray, short: int, long: int, smooth: int) -> FloatArray:
    ppo = percentage_price_oscillator(x, short, long)
    start = max(short, long) - 1
    out = _empty(x)
    if len(x) > start:
        out[start:] = exponential_moving_average(ppo[start:], smooth)
    return out


_BY_NAME: dict[str, Callable[[FloatArray, int], FloatArray]] = {
    "current-price": current_price,
    "moving-average-price": moving_average_price,
    "exponential-moving-average-price": exponential_moving_average,
    "stdev-price": stdev_price,
    "max-drawdown": max_drawdown,
    "rsi": rsi,
    "cumulative-return": cumulative_return,
    "moving-average-return": moving_average_return,
    "stdev-return": stdev_return,
}


def compute(spec: IndicatorSpec, closes: FloatArray) -> FloatArray:
    """The indicator over the whole series; NaN where the history is too short (index < need - 1)."""
    closes = np.asarray(closes, dtype=float)
    if spec.name == PPO:
        values = percentage_price_oscillator(closes, spec.short, spec.long)
    elif spec.name == PPO_SIGNAL:
        values = percentage_price_oscillator_signal(closes, spec.short, spec.long, spec.smooth)
    else:
        values = _BY_NAME[spec.name](closes, spec.window)
    values[: spec.need - 1] = np.nan  # never defined before the minimum history, whatever the formula gives
    return values
