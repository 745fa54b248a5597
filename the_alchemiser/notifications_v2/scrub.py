"""Secrets never reach an email. Event text (failure reasons, error details, broker errors) is
scrubbed before rendering: values under secret-looking keys, `key=value` / `key: value` pairs
with secret-looking names, bearer tokens, AWS and Alpaca key ids, long opaque tokens, and any
known secret value the caller passes in. Over-scrubbing a hash is cheaper than leaking a key."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from the_alchemiser.shared.secrets import is_secret_key
from the_alchemiser.shared.secrets import scrub as registered_secrets_scrubbed

REDACTED = "***"

# name=value, name: value, "name": "value" (JSON), name='value'. The name must start a token (the
# lookbehind) and is bounded, so the scan stays linear on long inputs; whether the name looks
# secret is decided in Python, not by regex backtracking.
_PAIR = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<name>[A-Za-z0-9_-]{1,64})(?P<sep>[\"']?\s{0,3}[:=]\s{0,3})(?P<quote>[\"']?)"
    r"(?P<value>[^\s\"',;}\])&]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b")
_ALPACA_KEY_ID = re.compile(r"\b(?:PK|AK|CK)[A-Z0-9]{16,}\b")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# a long run of token characters mixing letters and digits: API secrets, AWS secret keys, JWT parts
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_]{32,}")
_LOWER_HEX = re.compile(r"^[0-9a-f]+$")


def _looks_opaque(match: re.Match[str]) -> str:
    token = match.group(0)
    has_letter = any(ch.isalpha() for ch in token)
    has_digit = any(ch.isdigit() for ch in token)
    # lowercase hex is a digest (client_order_id "alc-<40 hex>", event hashes) an operator needs to
    # find the order; API secrets mix cases or carry base64 characters
    if has_letter and has_digit and not _UUID.match(token) and not _LOWER_HEX.match(token):
        return REDACTED
    return token


def _redact_pair(match: re.Match[str]) -> str:
    if not is_secret_key(match.group("name")):
        return match.group(0)
    return f"{match.group('name')}{match.group('sep')}{match.group('quote')}{REDACTED}"


def scrub_text(text: str, known_secrets: Iterable[str] = ()) -> str:
    """The text with anything that looks like a credential replaced by ***: the values the process
    loaded as credentials (shared/secrets.py), the caller's known values, then the patterns."""
    text = registered_secrets_scrubbed(text)
    for secret in known_secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    # bearer first: "Authorization: Bearer <token>" must lose the token, not just the word Bearer
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _PAIR.sub(_redact_pair, text)
    text = _AWS_KEY_ID.sub(REDACTED, text)
    text = _ALPACA_KEY_ID.sub(REDACTED, text)
    return _OPAQUE.sub(_looks_opaque, text)


def scrub_value(value: Any, known_secrets: Iterable[str] = ()) -> Any:
    """Scrub a JSON-like value: values under secret-looking keys become ***, strings are scrubbed."""
    secrets = tuple(known_secrets)
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if is_secret_key(str(key)) else scrub_value(item, secrets) for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [scrub_value(item, secrets) for item in items]
    if isinstance(value, str):
        return scrub_text(value, secrets)
    return value
