"""The symphony DSL: read, validate and evaluate Composer-style strategy files (spec: dsl.md).

Loading (no market data needed):

    load_strategy(path: str | os.PathLike[str]) -> Strategy
    parse_strategy(text: str, file: str | None = None) -> Strategy
        Strategy.name, .universe (every ticker mentioned: the bars an evaluation needs),
        .traded_symbols, .indicator_symbols, .indicator_only_symbols, .max_lookback (daily closes),
        .rebalance_threshold (float | None), .metadata, .node_count, .distinct_nodes, .warnings
        Raise DslParseError (file:line:col) or DslValidationError (unknown operator, bad arguments,
        unreadable file); both are DslError. A DslValidationError's .errors lists every invalid node
        found (itself first).

Evaluating:

    evaluate_strategy(strategy: Strategy, market_data: MarketDataPort, as_of: date) -> StrategyResult
        The live call: reads the universe's bars up to `as_of` from the port and evaluates the last
        bar date on or before it (closes up to and including that day).
    evaluate_on(strategy: Strategy, market: Market, requested: date | None = None, *,
                whole_axis: bool = False) -> StrategyResult
        The same on prepared bars: Market(bars: Mapping[str, DailyBars | DataFrame], symbols, end=None).
    evaluate_range(strategy: Strategy, bars: Mapping[str, DailyBars | DataFrame], start: date, end: date,
                   *, late_start: bool = False) -> DataFrame
        Backtest: daily weights (rows: days in [start, end], columns: symbols) in one evaluation; with
        late_start the rows begin at the first evaluable day in the range.

    StrategyResult.weights (dict symbol -> float, summing to 1, zero weights left out), .as_of (the
    day used), .requested_as_of, .trace (JSON-able decisions: ifs with values and margins, filter
    rankings with scores, excluded candidates, near-ties), .trace_summary (short lines for logs and
    the report), .rebalance_threshold, .to_json() (the `signals --json` object).

    Evaluation raises DslEvaluationError (too-short history naming symbol, indicator and window; a day
    before a needed symbol's first bar, naming that date; an undecidable `if`; no scorable filter
    candidate...) and the market-data port's errors (MissingMarketDataError naming every symbol without
    bars at all, from the_alchemiser.shared.market_data).

    Importing this package loads no pandas (only `evaluate_range` does, for its DataFrame).

Example:

    strategy = load_strategy(Path("strategies/nuclear.clj"))
    result = evaluate_strategy(strategy, market_data, as_of=date(2026, 11, 20))
    result.weights, result.trace_summary
"""

from the_alchemiser.strategy_v2.dsl.engine import StrategyResult, evaluate_on, evaluate_range, evaluate_strategy
from the_alchemiser.strategy_v2.dsl.errors import DslError, DslEvaluationError, DslParseError, DslValidationError
from the_alchemiser.strategy_v2.dsl.market import Market
from the_alchemiser.strategy_v2.dsl.strategy import Strategy, load_strategy, parse_strategy

__all__ = [
    "DslError",
    "DslEvaluationError",
    "DslParseError",
    "DslValidationError",
    "Market",
    "Strategy",
    "StrategyResult",
    "evaluate_on",
    "evaluate_range",
    "evaluate_strategy",
    "load_strategy",
    "parse_strategy",
]
