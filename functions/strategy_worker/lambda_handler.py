"""Deploy-unit entry point of StrategyFunction: the handler lives in the_alchemiser.strategy_v2."""

from the_alchemiser.strategy_v2.lambda_handler import lambda_handler

__all__ = ["lambda_handler"]
