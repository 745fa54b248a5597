"""Secrets never reach an email: the scrubber on its own, and through every text channel of an email."""

from __future__ import annotations

import pytest

from tests.support.notifications_v2.helpers import build_service
from tests.support.notifications_v2.scenarios import TRADING_DATE, _base
from the_alchemiser.notifications_v2.scrub import REDACTED, scrub_text, scrub_value
from the_alchemiser.shared.events import WorkflowFailed

ALPACA_KEY_ID = "PKX7QZ3L9ARTW2Y8M4NB"
ALPACA_SECRET = "Zq8vM2xR7tYp4Lk9Wn3Bc6Hd1Fg5Js0Ae2Qu8Io7Pz"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"APCA-API-KEY-ID={ALPACA_KEY_ID}", ALPACA_KEY_ID),
        (f"api_key: {ALPACA_KEY_ID}", ALPACA_KEY_ID),
        (f'{{"secret_key": "{ALPACA_SECRET}"}}', ALPACA_SECRET),
        (f"headers={{'APCA-API-SECRET-KEY': '{ALPACA_SECRET}'}}", ALPACA_SECRET),
        (f"aws_secret_access_key={AWS_SECRET}", AWS_SECRET),
        (f"Authorization: Bearer {JWT}", JWT),
        (f"token {JWT} expired", "eyJhbGciOiJIUzI1NiJ9"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("password=hunter2hunter2", "hunter2hunter2"),
        ("X-Amz-Security-Token=FwoGZXIvYXdzEJr%2F%2F", "FwoGZXIvYXdzEJr"),
        ("key id AKIAIOSFODNN7EXAMPLE in use", "AKIAIOSFODNN7EXAMPLE"),
        (f"the key {ALPACA_KEY_ID} was rejected", ALPACA_KEY_ID),
        (f"opaque {ALPACA_SECRET} in a message", ALPACA_SECRET),
    ],
)
def test_scrub_text_removes_credentials(text: str, secret: str) -> None:
    scrubbed = scrub_text(text)
    assert secret not in scrubbed
    assert REDACTED in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "correlation 4f9c1d2e-8a7b-4c3d-9e1f-0a2b3c4d5e6f failed",
        "insufficient buying power (requested $2,001.00, available $1,500.00)",
        "client order corr-success-2026-11-24-SPY-buy-1 rejected",
        "https://paper-api.alpaca.markets/v2/account",
        "rsi on UVXY needs 10 bars of history, 7 available (line 41)",
        "order alc-3f1e9c0b7a5d2e8f4c6b1a9d0e7f3c2b5a8d6e4f rejected",  # execution's client_order_id
    ],
)
def test_scrub_text_keeps_ordinary_text(text: str) -> None:
    assert scrub_text(text) == text


def test_known_secret_values_are_removed_anywhere() -> None:
    assert scrub_text("weird place: xyzzy-plugh", known_secrets=["xyzzy-plugh"]) == f"weird place: {REDACTED}"


def test_scrub_value_redacts_by_key_at_any_depth() -> None:
    value = {"outer": {"Authorization": "anything", "list": [{"session_token": "t"}, "fine"]}, "count": 3}
    assert scrub_value(value) == {
        "outer": {"Authorization": REDACTED, "list": [{"session_token": REDACTED}, "fine"]},
        "count": 3,
    }


def test_no_secret_in_any_part_of_a_failure_email() -> None:
    """Secrets planted in the reason, nested error details, strategy errors and a known value."""
    event = WorkflowFailed(
        **_base("corr-secrets", "portfolio_v2", "PortfolioService"),
        failure_reason=f"401 with APCA-API-KEY-ID={ALPACA_KEY_ID} and Authorization: Bearer {JWT}",
        failure_step="portfolio",
        error_details={
            "failed_strategies": {"a.clj": f"fetch failed: api_key={ALPACA_KEY_ID}"},
            "missing_strategies": ["b.clj"],
            "request": {"headers": {"APCA-API-SECRET-KEY": ALPACA_SECRET}, "body": f"secret={ALPACA_SECRET}"},
            "env": [f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "STAGE=dev"],
            "note": "the plain known secret sits here: s3cr3t-value-from-settings",
        },
        trading_date=TRADING_DATE,
    )
    service, sent, _, _ = build_service([], known_secrets=["s3cr3t-value-from-settings"])
    service.handle_event(event)
    (message,) = sent.sent
    everything = message.subject + message.body + repr(message.attributes)
    for secret in (ALPACA_KEY_ID, ALPACA_SECRET, AWS_SECRET, JWT, "eyJhbGciOiJIUzI1NiJ9", "s3cr3t-value-from-settings"):
        assert secret not in everything
    assert "STAGE=dev" in message.body and "b.clj" in message.body


def test_scrub_is_linear_on_long_inputs() -> None:
    """A 300 KB run of token characters once made a backtracking pattern hang the Lambda."""
    long_word = "x" * 300_000
    assert scrub_text(long_word) == long_word
    mixed = ("ab12" * 75_000) + " api_key=" + ALPACA_SECRET
    scrubbed = scrub_text(mixed)
    assert ALPACA_SECRET not in scrubbed and scrubbed.endswith("api_key=***")
