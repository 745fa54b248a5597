"""Deploy-unit entry point of StrategyOrchestratorFunction: the handler lives in the_alchemiser.coordinator_v2."""

from the_alchemiser.coordinator_v2.lambda_handler import lambda_handler

__all__ = ["lambda_handler"]
