"""Deploy-unit entry point of PortfolioFunction: the handler lives in the_alchemiser.portfolio_v2."""

from the_alchemiser.portfolio_v2.lambda_handler import lambda_handler

__all__ = ["lambda_handler"]
