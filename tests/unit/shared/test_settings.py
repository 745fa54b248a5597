from __future__ import annotations

import pytest

from the_alchemiser.shared.config import Settings


def test_reads_the_seed_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "ALPACA_API_KEY": "key-123",
        "ALPACA_SECRET_KEY": "secret-456",
        "ALPACA_BASE_URL": "http://127.0.0.1:9999/",
        "EVENT_BUS_NAME": "alchemiser-dev-events",
        "SNS_NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
        "TRADE_LEDGER__TABLE_NAME": "alchemiser-dev-trade-ledger",
        "PERFORMANCE_REPORTS_BUCKET": "alchemiser-dev-reports",
        "LOG_LEVEL": "DEBUG",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.alpaca_api_key is not None
    assert settings.alpaca_api_key.get_secret_value() == "key-123"
    assert settings.trading_base_url == "http://127.0.0.1:9999"
    assert settings.event_bus_name == "alchemiser-dev-events"
    assert settings.sns_notification_topic_arn == env["SNS_NOTIFICATION_TOPIC_ARN"]
    assert settings.trade_ledger_table_name == "alchemiser-dev-trade-ledger"
    assert settings.performance_reports_bucket == "alchemiser-dev-reports"
    assert settings.log_level == "DEBUG"
    assert "secret-456" not in repr(settings) and "key-123" not in repr(settings)


def test_paper_trading_defaults_to_true() -> None:
    settings = Settings()
    assert settings.paper_trading is True
    assert settings.mode_label == "PAPER"
    assert settings.trading_base_url == "https://paper-api.alpaca.markets"


def test_live_needs_an_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPER_TRADING", "false")
    settings = Settings()
    assert settings.mode_label == "LIVE"
    assert settings.trading_base_url == "https://api.alpaca.markets"


def test_garbage_boolean_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPER_TRADING", "perhaps")
    with pytest.raises(ValueError):
        Settings()


def test_the_clock_is_the_system_clock_unless_the_local_stack_sets_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from the_alchemiser.shared.calendar import FixedClock, SystemClock

    monkeypatch.delenv("ALCHEMISER_LOCAL_CLOCK", raising=False)
    assert isinstance(Settings().clock(), SystemClock)
    monkeypatch.setenv("ALCHEMISER_LOCAL_CLOCK", "2026-11-20T15:30:00-05:00")
    clock = Settings().clock()
    assert isinstance(clock, FixedClock)
    assert clock.now() == datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
    monkeypatch.setenv("ALCHEMISER_LOCAL_CLOCK", "2026-11-20T15:30:00")
    with pytest.raises(ValueError, match="time zone"):
        Settings().clock()


# ---- finding 9 (issue 14): the paper flag and the URL cannot disagree
@pytest.mark.parametrize(
    ("paper", "url"),
    [
        ("true", "https://api.alpaca.markets"),
        ("true", "https://api.alpaca.markets/"),
        ("true", "HTTPS://API.ALPACA.MARKETS/v2"),
        ("false", "https://paper-api.alpaca.markets"),
        ("false", "https://paper-api.alpaca.markets/"),
    ],
)
def test_a_paper_flag_contradicting_the_url_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, paper: str, url: str
) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("PAPER_TRADING", paper)
    monkeypatch.setenv("ALPACA_BASE_URL", url)
    with pytest.raises(ValidationError, match="PAPER_TRADING") as raised:
        Settings()
    message = str(raised.value)
    assert "ALPACA_BASE_URL" in message
    assert ("live" in message) and ("paper" in message)


@pytest.mark.parametrize(
    ("paper", "url"),
    [
        ("true", "https://paper-api.alpaca.markets"),
        ("false", "https://api.alpaca.markets"),
        ("true", "http://127.0.0.1:8123"),
        ("false", "http://127.0.0.1:8123"),
        ("false", "http://localhost:9000/"),
        ("true", "http://sim-broker.internal:8080"),
    ],
)
def test_an_agreeing_or_local_url_starts(monkeypatch: pytest.MonkeyPatch, paper: str, url: str) -> None:
    monkeypatch.setenv("PAPER_TRADING", paper)
    monkeypatch.setenv("ALPACA_BASE_URL", url)
    assert Settings().trading_base_url == url.rstrip("/")
