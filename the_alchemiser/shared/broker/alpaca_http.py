"""alpaca-py's HTTP side, shared by the broker adapter and the bars source: a quiet client (no alpaca-py
retries, since `RetryPolicy` governs; a timeout on every request), Alpaca's errors as the project's, the
pause before a retry, and the keys from Secrets Manager. No trading or data client is imported here."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from alpaca.common.exceptions import APIError

from the_alchemiser.shared.broker.errors import (
    AuthenticationError,
    BrokerError,
    BrokerUnavailableError,
    DuplicateClientOrderIdError,
    InsufficientBuyingPowerError,
    InsufficientQuantityError,
    NotFoundError,
    OrderRejectedError,
    RateLimitedError,
    TransientBrokerError,
)
from the_alchemiser.shared.broker.retry import RetryPolicy
from the_alchemiser.shared.secrets import register_secret, scrub

if TYPE_CHECKING:
    from the_alchemiser.shared.config.settings import Settings

T = TypeVar("T")


class _TimeoutSession(requests.Session):
    """requests has no default timeout and alpaca-py sets none: a hung socket must not hang a Lambda."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]


def quiet_client(client: Any, timeout: float) -> None:
    """No internal retries (ours govern) and a timeout on every request."""
    client._retry = 0
    client._session = _TimeoutSession(timeout)


def _error_body(exc: APIError) -> tuple[int | None, str]:
    text = str(exc)
    try:
        body = json.loads(text)
    except ValueError:
        return None, text[:300]
    if not isinstance(body, dict):
        return None, text[:300]
    code = body.get("code")
    return (int(code) if isinstance(code, int) else None), str(body.get("message", text))


def translate_error(exc: Exception) -> BrokerError:
    """Alpaca's APIError / requests' connection errors -> the project's exceptions."""
    if isinstance(exc, BrokerError):
        return exc
    if isinstance(exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError):
        return BrokerUnavailableError(scrub(f"broker unreachable: {exc}"))
    if not isinstance(exc, APIError):
        return BrokerError(scrub(f"unexpected broker failure: {exc!r}"))
    status = exc.status_code
    code, message = _error_body(exc)
    message = scrub(message)  # an error that echoes a credential: removed here, before any log or event
    lowered = message.lower()
    kwargs = {"status_code": status, "code": code}
    if status == 401:
        return AuthenticationError(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 429:
        return _rate_limited(exc, message, code)
    if status is not None and status >= 500:
        return BrokerUnavailableError(message, **kwargs)
    if status == 403 and lowered.strip(" .") == "forbidden":  # Alpaca's answer to keys it does not know
        return AuthenticationError(message, **kwargs)
    if status in (403, 422):
        if "client_order_id" in lowered and "unique" in lowered:
            return DuplicateClientOrderIdError(message, **kwargs)
        if "buying power" in lowered:
            return InsufficientBuyingPowerError(message, **kwargs)
        if "qty" in lowered and ("insufficient" in lowered or "available" in lowered):
            return InsufficientQuantityError(message, **kwargs)
        return OrderRejectedError(message, **kwargs)
    return BrokerError(message, **kwargs)


def _header_number(headers: Any, name: str) -> float | None:
    try:
        value = headers.get(name) if headers is not None else None
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _rate_limited(exc: APIError, message: str, code: int | None) -> RateLimitedError:
    """429 with what Alpaca's X-RateLimit-* headers say (reset is Unix seconds)."""
    headers = getattr(exc.response, "headers", None)
    limit = _header_number(headers, "X-RateLimit-Limit")
    remaining = _header_number(headers, "X-RateLimit-Remaining")
    return RateLimitedError(
        message,
        status_code=429,
        code=code,
        reset_at=_header_number(headers, "X-RateLimit-Reset"),
        limit=None if limit is None else int(limit),
        remaining=None if remaining is None else int(remaining),
    )


def call_with_retries(
    retry: RetryPolicy, fn: Callable[[], T], on_retry: Callable[[int, BrokerError, float], None]
) -> T:
    """Run `fn`, retrying transient failures (429, 5xx, connection) after the policy's pause; any other
    failure, or the last, raised as the project's error. `on_retry(attempt, error, paused seconds)` is told
    each retry (the caller logs it). Only for calls that are safe to repeat."""
    attempts = retry.max_attempts
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:
            error = translate_error(exc)
            if not isinstance(error, TransientBrokerError) or attempt == attempts - 1:
                raise error from exc
            on_retry(attempt, error, pause_before_retry(retry, attempt, error))
    raise AssertionError("unreachable")  # pragma: no cover


def pause_before_retry(retry: RetryPolicy, attempt: int, error: BrokerError) -> float:
    """Back off before the next attempt; after a 429 from a spent budget, until the window resets."""
    reset_at = None
    if isinstance(error, RateLimitedError) and not error.remaining:  # 0 left, or not said
        reset_at = error.reset_at
    return retry.wait(attempt, reset_at=reset_at)


def keys_from_secret(secret_id: str) -> tuple[str, str]:
    import boto3

    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    data = json.loads(value)
    key = data.get("api_key") or data.get("ALPACA_API_KEY")
    secret = data.get("secret_key") or data.get("ALPACA_SECRET_KEY")
    if not key or not secret:
        raise AuthenticationError(f"secret {secret_id} has no api_key/secret_key")
    register_secret(str(key), str(secret))
    return str(key), str(secret)


def keys_from_settings(settings: Settings) -> tuple[str, str]:
    """Keys from ALPACA_API_KEY/ALPACA_SECRET_KEY, else the Secrets Manager secret ALPACA_CREDENTIALS_SECRET
    (JSON with `api_key` and `secret_key`)."""
    if settings.alpaca_api_key and settings.alpaca_secret_key:
        return settings.alpaca_api_key.get_secret_value(), settings.alpaca_secret_key.get_secret_value()
    if settings.alpaca_credentials_secret:
        return keys_from_secret(settings.alpaca_credentials_secret)
    raise AuthenticationError("no Alpaca keys: set ALPACA_API_KEY/ALPACA_SECRET_KEY or ALPACA_CREDENTIALS_SECRET")


def default_data_url(trading_url: str | None) -> str | None:
    """A non-Alpaca trading URL (the local paper broker) serves the data API at the same base."""
    if trading_url and "alpaca.markets" not in trading_url:
        return trading_url.rstrip("/")
    return None
