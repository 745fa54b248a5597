"""Deploy-unit entry point of StrategyAggregatorFunction: the handler lives in the_alchemiser.aggregator_v2."""

from the_alchemiser.aggregator_v2.lambda_handler import lambda_handler

__all__ = ["lambda_handler"]
