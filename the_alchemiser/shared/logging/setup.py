"""Structured JSON logs (structlog) with correlation and causation ids on every line.

structlog is imported without its optional pretty-printers (rich, better_exceptions, colorama): structlog
imports rich whenever it is installed (a dev dependency brings it), which costs every command and cold
start ~30 ms and ~5 MiB, and the JSON renderer never uses it."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO, cast

from the_alchemiser.shared.logging.lambda_context import add_lambda_context
from the_alchemiser.shared.secrets import is_secret_key, known_secrets, scrub, scrub_deep
from the_alchemiser.shared.stamps import stamp_now

_PRETTY_PRINTERS = ("rich", "better_exceptions", "colorama")


@contextmanager
def _without_pretty_printers() -> Iterator[None]:
    """Hide structlog's optional pretty-printers while it imports (each is a try/except import in
    structlog.dev and structlog.tracebacks); one imported before stays as it was, and after the block
    the others import normally again for whoever wants them."""
    hidden = [name for name in _PRETTY_PRINTERS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` now raises ImportError
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


with _without_pretty_printers():
    import structlog


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Belt and braces: never let a key that looks secret reach a log line."""
    for key in list(event_dict):
        if is_secret_key(key):
            event_dict[key] = "***"
    return event_dict


def _scrub_secret_values(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The configured credential values, wherever they sit (a broker error echoing the key, an
    exception's text): after format_exc_info, so the traceback is scrubbed too."""
    if not known_secrets():
        return event_dict
    for key in list(event_dict):
        event_dict[key] = scrub_deep(event_dict[key])
    return event_dict


def _scrubbing_record_factory(base: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """The same guard for the stdlib loggers (Powertools, botocore): the message and the exception
    text of a record are scrubbed when it is made, before any handler formats it."""

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        if not known_secrets():
            return record
        try:
            message = record.getMessage()
        except Exception:
            return record
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            scrubbed = scrub(text)
            if scrubbed != text:
                record.exc_text = scrubbed
        return record

    factory._alchemiser_scrubs = True  # type: ignore[attr-defined]
    return factory


def _install_record_factory() -> None:
    current = logging.getLogRecordFactory()
    if not getattr(current, "_alchemiser_scrubs", False):
        logging.setLogRecordFactory(_scrubbing_record_factory(current))


def _ensure_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event_dict.setdefault("correlation_id", None)
    event_dict.setdefault("causation_id", None)
    return event_dict


def _timestamp(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """ISO UTC from the stamping clock (the local stack's simulated day stamps its log lines too)."""
    event_dict["timestamp"] = stamp_now().isoformat(timespec="microseconds").replace("+00:00", "Z")
    return event_dict


_redirected: TextIO | None = None


class _CurrentStream:
    """Whatever `sys.stdout` (or `sys.stderr`) is when a line is written, not when logging was
    configured: a replaced stream, such as a test's capture, may be closed by then."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        stream: TextIO = getattr(sys, self.name)
        return stream.write(text)

    def flush(self) -> None:
        stream: TextIO = getattr(sys, self.name)
        stream.flush()


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Configure structlog for JSON lines. Safe to call again: a stream given once (the local stack's log
    file) is kept by later calls that only set the level, until `stream=sys.stdout` restores it."""
    global _redirected  # noqa: PLW0603 - one logging configuration per process, like structlog's own
    if stream is not None:
        _redirected = None if stream is sys.stdout else stream
        if stream is sys.stderr:
            _redirected = cast(TextIO, _CurrentStream("stderr"))
    _install_record_factory()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_lambda_context,
            structlog.processors.add_log_level,
            _timestamp,
            _ensure_ids,
            _redact,
            structlog.processors.format_exc_info,
            _scrub_secret_values,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping().get(level.upper(), 20)),
        logger_factory=structlog.PrintLoggerFactory(_redirected or cast(TextIO, _CurrentStream("stdout"))),
        cache_logger_on_first_use=False,
    )


def log_trace_fields() -> dict[str, Any]:
    """What a log line written now would carry to trace it: correlation/causation ids, the Lambda context and
    the stamping clock's time."""
    fields: MutableMapping[str, Any] = dict(structlog.contextvars.get_contextvars())
    add_lambda_context(None, "", fields)
    _ensure_ids(None, "", fields)
    _timestamp(None, "", fields)
    return dict(fields)


def log_stream() -> TextIO:
    """Where log lines are written now: the stream given to configure_logging, else stdout (as of now)."""
    return _redirected or sys.stdout


def get_logger(component: str, **initial: Any) -> Any:
    if not structlog.is_configured():
        configure_logging()
    return structlog.get_logger(component=component, **initial)


def bind_workflow_context(correlation_id: str | None, causation_id: str | None, **extra: Any) -> None:
    """Bind ids for the rest of this invocation (contextvars: one Lambda invocation = one context)."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id, causation_id=causation_id, **extra)


@contextmanager
def workflow_context(correlation_id: str | None, causation_id: str | None, **extra: Any) -> Iterator[None]:
    """Bind ids for a block and restore what was bound before (the local stack runs many handlers)."""
    saved = structlog.contextvars.get_contextvars()
    bind_workflow_context(correlation_id, causation_id, **extra)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**saved)
