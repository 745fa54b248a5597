"""What every handler adds to its log lines: the Lambda invocation.

`with_lambda_context` wraps each `lambda_handler`: every line of the invocation carries the fields
Powertools Logger would inject (`function_name`, `function_memory_size`, `function_arn`,
`function_request_id`, `cold_start`, `xray_trace_id`). They live in a context variable of their own, not in
structlog's: `bind_workflow_context` clears structlog's on each message, and the correlation/causation ids
stay exactly as they were. (The messages a handler rejects: shared/rejections.py.)"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any, TypeVar

_invocation: ContextVar[Mapping[str, Any] | None] = ContextVar("alchemiser_lambda_invocation", default=None)

R = TypeVar("R")


def add_lambda_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current invocation's fields on every line (none outside a handler)."""
    invocation = _invocation.get()
    if invocation:
        for key, value in invocation.items():
            event_dict.setdefault(key, value)
    return event_dict


def current_request_id() -> str | None:
    invocation = _invocation.get()
    value = invocation.get("function_request_id") if invocation else None
    return str(value) if value else None


def _fields(context: Any, cold_start: bool) -> dict[str, Any]:
    """Powertools Logger's names; a field the context lacks (a local or test invocation) is left out."""
    fields = {
        "function_name": getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "function_memory_size": getattr(context, "memory_limit_in_mb", None),
        "function_arn": getattr(context, "invoked_function_arn", None),
        "function_request_id": getattr(context, "aws_request_id", None),
        "cold_start": cold_start,
        "xray_trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
    }
    return {key: value for key, value in fields.items() if value is not None}


def with_lambda_context(handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
    """Decorate a `lambda_handler(event, context)`: its log lines carry the invocation's fields. The first
    invocation of the handler in this process is the cold start."""
    cold = [True]

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> R:
        cold_start, cold[0] = cold[0], False
        token = _invocation.set(_fields(context, cold_start))
        try:
            return handler(event, context)
        except BaseException as exc:
            scrub_exception(exc)  # the Lambda runtime logs an uncaught exception's text as it is
            raise
        finally:
            _invocation.reset(token)

    return wrapper


def scrub_exception(exc: BaseException) -> None:
    """Remove the credential values (shared/secrets.py) from an exception's arguments, and its causes'."""
    from the_alchemiser.shared.secrets import known_secrets, scrub_deep

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and known_secrets():
        seen.add(id(current))
        with contextlib.suppress(AttributeError, TypeError):  # a type that refuses new args keeps them
            current.args = tuple(scrub_deep(list(current.args)))
        current = current.__cause__ or current.__context__
