"""Deploy-unit entry point of ExecutionFunction: the handler lives in the_alchemiser.execution_v2."""

from the_alchemiser.execution_v2.lambda_handler import lambda_handler

__all__ = ["lambda_handler"]
