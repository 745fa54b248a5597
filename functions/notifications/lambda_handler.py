"""Deploy-unit entry point of NotificationsFunction: the handler lives in the_alchemiser.notifications_v2."""

from the_alchemiser.notifications_v2.lambda_handler import lambda_handler

__all__ = ["lambda_handler"]
