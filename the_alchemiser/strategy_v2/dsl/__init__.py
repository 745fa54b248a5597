"""The symphony DSL: read, validate and evaluate Composer-style strategy files.

strategy = load_strategy(Path("strategies/nuclear.clj"))
result = evaluate_strategy(strategy, market_data, as_of=date(2026, 11, 20))
result.weights, result.trace, result.trace_summary
"""

from the_alchemiser.strategy_v2.dsl.engine import StrategyResult, evaluate_on, evaluate_range, evaluate_strategy
from the_alchemiser.strategy_v2.dsl.errors import DslError, DslEvaluationError, DslParseError, DslValidationError
from the_alchemiser.strategy_v2.dsl.strategy import Strategy, load_strategy, parse_strategy

__all__ = [
    "DslError",
    "DslEvaluationError",
    "DslParseError",
    "DslValidationError",
    "Strategy",
    "StrategyResult",
    "evaluate_on",
    "evaluate_range",
    "evaluate_strategy",
    "load_strategy",
    "parse_strategy",
]
