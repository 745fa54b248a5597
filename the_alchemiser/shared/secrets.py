"""The configured credential values, so that no log line, event or email carries them.

Redacting by key name (`api_key=...`) misses a value that sits somewhere else: a broker error message
that echoes the key, an exception's text, a failure reason. So the values themselves are registered
when the credentials are loaded (Settings from the environment, the Secrets Manager secret) and
removed wherever text leaves the process: the structlog processor and the stdlib log records
(shared/logging), the event detail put on the bus or in S3 (shared/events/publisher), broker errors
(shared/broker), and the email text (notifications_v2/scrub).

One registry per process (a Lambda sandbox loads its credentials once); values shorter than
MIN_SECRET_LENGTH are not registered, so a test's "k"/"s" keys cannot scrub ordinary words."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

REDACTED = "***"
# Alpaca key ids are 20 characters and secrets 40; anything this short is no credential to protect
MIN_SECRET_LENGTH = 8

# Names under which a value is a credential, whatever it is: log fields (shared/logging) and event or email
# text (notifications_v2/scrub) are redacted by this one list.
SECRET_KEY_MARKERS = (
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "api-key",
    "token",
    "authorization",
    "credential",
    "private_key",
    "access_key",
    "apca-api",
    "signature",
)

_lock = threading.Lock()
_values: tuple[str, ...] = ()


def _forms(value: str) -> set[str]:
    """The value as it may appear in text: itself, JSON-escaped, URL-encoded."""
    return {value, json.dumps(value)[1:-1], quote(value, safe="")} - {""}


def is_secret_key(name: str) -> bool:
    """Whether a field or parameter of this name holds a credential (SECRET_KEY_MARKERS)."""
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_KEY_MARKERS)


def register_secret(*values: str | None) -> None:
    """Remember credential values (and their escaped forms) to scrub from all output."""
    global _values  # noqa: PLW0603 - one registry per process, like the logging configuration
    new = {form for value in values if value and len(value) >= MIN_SECRET_LENGTH for form in _forms(value)}
    if not new - set(_values):
        return
    with _lock:
        # longest first, so a value containing another is removed whole
        _values = tuple(sorted(set(_values) | new, key=lambda v: (-len(v), v)))


def known_secrets() -> tuple[str, ...]:
    return _values


def forget_secrets() -> None:
    """Tests only: start from an empty registry."""
    global _values  # noqa: PLW0603
    with _lock:
        _values = ()


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """The text with every registered (and every `extra`) value replaced by ***."""
    for value in (*_values, *extra):
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text


def scrub_deep(value: Any) -> Any:
    """Scrub every string of a JSON-like value (keys too); other values unchanged. Cheap when nothing
    is registered."""
    if not _values:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {scrub_deep(key): scrub_deep(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_deep(item) for item in value)
    return value
