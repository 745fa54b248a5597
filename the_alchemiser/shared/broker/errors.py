"""The project's broker exceptions: adapters translate Alpaca's errors into these."""

from __future__ import annotations


class BrokerError(Exception):
    """Anything the broker refused or could not do."""

    def __init__(self, message: str, *, status_code: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class TransientBrokerError(BrokerError):
    """Worth retrying with backoff: 429 rate limit, 5xx, connection failure."""


class RateLimitedError(TransientBrokerError):
    """429: over the request budget. `reset_at` is Alpaca's X-RateLimit-Reset (Unix seconds) when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = 429,
        code: int | None = None,
        reset_at: float | None = None,
        limit: int | None = None,
        remaining: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.reset_at = reset_at
        self.limit = limit
        self.remaining = remaining


class BrokerUnavailableError(TransientBrokerError):
    """5xx or the connection failed."""


class AuthenticationError(BrokerError):
    """401: bad or missing keys."""


class OrderRejectedError(BrokerError):
    """422 / 403 on an order: invalid, insufficient buying power or quantity, not tradable."""


class InsufficientBuyingPowerError(OrderRejectedError):
    """403 insufficient buying power."""


class InsufficientQuantityError(OrderRejectedError):
    """403/422 insufficient qty available (shares held by open orders, or not held)."""


class DuplicateClientOrderIdError(OrderRejectedError):
    """422: the client_order_id was used before (unique even after cancel)."""


class NotFoundError(BrokerError):
    """404: no such order, position or asset."""


class OrderNotCancelableError(BrokerError):
    """422 on cancel: the order is already terminal (e.g. it filled first)."""
