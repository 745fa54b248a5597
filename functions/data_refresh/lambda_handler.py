"""Deploy-unit entry point of DataRefreshFunction: the handler lives in the_alchemiser.data_v2."""

from the_alchemiser.data_v2.lambda_handler import lambda_handler

__all__ = ["lambda_handler"]
