"""Typed settings read from the environment under the seed's variable names."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from the_alchemiser.shared.calendar import Clock, FixedClock, SystemClock
from the_alchemiser.shared.secrets import register_secret

PAPER_BASE_URL = "https://paper-api.alpaca.markets"
LIVE_BASE_URL = "https://api.alpaca.markets"
_PAPER_HOST = "paper-api.alpaca.markets"
_LIVE_HOST = "api.alpaca.markets"


def alpaca_endpoint_mode(url: str | None) -> Literal["paper", "live"] | None:
    """Which of Alpaca's trading endpoints a URL names: "paper", "live", or None for any other host
    (the local paper broker on 127.0.0.1, a test double)."""
    if not url:
        return None
    host = (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    if host == _PAPER_HOST:
        return "paper"
    if host == _LIVE_HOST:
        return "live"
    return None


class Settings(BaseSettings):
    """Every variable a handler reads. Secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    alpaca_api_key: SecretStr | None = Field(default=None, validation_alias="ALPACA_API_KEY")
    alpaca_secret_key: SecretStr | None = Field(default=None, validation_alias="ALPACA_SECRET_KEY")
    alpaca_base_url: str | None = Field(default=None, validation_alias="ALPACA_BASE_URL")
    alpaca_data_url: str | None = Field(default=None, validation_alias="ALPACA_DATA_URL")
    alpaca_credentials_secret: str | None = Field(
        default=None,
        validation_alias="ALPACA_CREDENTIALS_SECRET",
        description="Secrets Manager secret id holding {api_key, secret_key}; used when the keys are unset",
    )
    paper_trading: bool = Field(default=True, validation_alias="PAPER_TRADING")

    stage: str = Field(default="dev", validation_alias="STAGE")
    event_bus_name: str = Field(default="default", validation_alias="EVENT_BUS_NAME")
    sns_notification_topic_arn: str | None = Field(default=None, validation_alias="SNS_NOTIFICATION_TOPIC_ARN")
    trade_ledger_table_name: str = Field(
        default="alchemiser-dev-trade-ledger", validation_alias="TRADE_LEDGER__TABLE_NAME"
    )
    aggregation_sessions_table_name: str = Field(
        default="alchemiser-dev-aggregation-sessions", validation_alias="AGGREGATION_SESSIONS_TABLE_NAME"
    )
    idempotency_table_name: str = Field(default="alchemiser-dev-idempotency", validation_alias="IDEMPOTENCY_TABLE_NAME")
    performance_reports_bucket: str | None = Field(default=None, validation_alias="PERFORMANCE_REPORTS_BUCKET")
    market_data_bucket: str | None = Field(default=None, validation_alias="MARKET_DATA_BUCKET")
    event_payloads_bucket: str | None = Field(
        default=None,
        validation_alias="EVENT_PAYLOADS_BUCKET",
        description="where event bodies over the EventBridge size limit and full traces go",
    )
    strategy_worker_function_name: str | None = Field(default=None, validation_alias="STRATEGY_WORKER_FUNCTION_NAME")
    session_deadline_queue_url: str | None = Field(default=None, validation_alias="SESSION_DEADLINE_QUEUE_URL")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    metrics_namespace: str = Field(
        default="alchemiser",
        validation_alias="POWERTOOLS_METRICS_NAMESPACE",
        description="CloudWatch namespace of the EMF metrics (shared/metrics.py); the stack's own in AWS",
    )
    # strategy fan-out / fan-in (coordinator_v2, strategy_v2, aggregator_v2)
    strategies_dir: str | None = Field(
        default=None,
        validation_alias="STRATEGIES_DIR",
        description="folder with the .clj files and allocations.toml; default: the project's strategies/",
    )
    market_data_dir: str | None = Field(
        default=None,
        validation_alias="MARKET_DATA_DIR",
        description="a folder of <SYMBOL>.csv daily bars; used when MARKET_DATA_BUCKET is unset",
    )
    strategy_live_bar: bool = Field(
        default=False,
        validation_alias="STRATEGY_LIVE_BAR",
        description="workers append the trading day's bar built from the latest quotes (dsl.md's live mode)",
    )
    session_deadline_seconds: int = Field(
        default=600, ge=1, le=900, validation_alias="SESSION_DEADLINE_SECONDS", description="SQS DelaySeconds <= 900"
    )
    session_deadline_policy: Literal["no_trade", "merge_available"] = Field(
        default="no_trade",
        validation_alias="SESSION_DEADLINE_POLICY",
        description="at the deadline with strategies missing: no_trade (WorkflowFailed naming them) or "
        "merge_available (trade the strategies that answered, allocations rescaled to sum to 1)",
    )

    min_trade_value: Decimal | None = Field(
        default=None,
        ge=0,
        validation_alias="MIN_TRADE_VALUE",
        description="dollars below which the planner skips a rebalance leg; unset: the planner's default ($50)",
    )

    local_clock: datetime | None = Field(
        default=None,
        validation_alias="ALCHEMISER_LOCAL_CLOCK",
        description="local stack only: the simulated time of the trading day (aware ISO datetime)",
    )

    sim_control_url: str | None = Field(
        default=None,
        validation_alias="ALCHEMISER_SIM_CONTROL_URL",
        description="local stack only: the local paper broker's base URL; waits then advance its simulated clock",
    )

    @model_validator(mode="after")
    def _register_credentials(self) -> Settings:
        """The key values are scrubbed from every log line, event and email (shared/secrets.py)."""
        register_secret(
            *(value.get_secret_value() for value in (self.alpaca_api_key, self.alpaca_secret_key) if value is not None)
        )
        return self

    @model_validator(mode="after")
    def _paper_flag_matches_the_url(self) -> Settings:
        """PAPER_TRADING=true with Alpaca's live endpoint would trade live while every email says PAPER
        (and false with the paper endpoint the reverse): refuse to start. Other hosts are neither."""
        endpoint = alpaca_endpoint_mode(self.alpaca_base_url)
        flag = "paper" if self.paper_trading else "live"
        if endpoint is not None and endpoint != flag:
            raise ValueError(
                f"PAPER_TRADING={str(self.paper_trading).lower()} asks for {flag} trading but ALPACA_BASE_URL="
                f"{self.alpaca_base_url} is Alpaca's {endpoint} endpoint: refusing to start. Set PAPER_TRADING="
                f"{str(endpoint == 'paper').lower()} to trade {endpoint}, or point ALPACA_BASE_URL at the {flag} "
                f"endpoint ({PAPER_BASE_URL if flag == 'paper' else LIVE_BASE_URL}), or unset it."
            )
        return self

    def clock(self) -> Clock:
        """The clock port's adapter: the system clock, or the local stack's simulated one."""
        if self.local_clock is None:
            return SystemClock()
        if self.local_clock.tzinfo is None:
            raise ValueError("ALCHEMISER_LOCAL_CLOCK must carry a time zone")
        return FixedClock(self.local_clock)

    @property
    def trading_base_url(self) -> str:
        if self.alpaca_base_url:
            return self.alpaca_base_url.rstrip("/")
        return PAPER_BASE_URL if self.paper_trading else LIVE_BASE_URL

    @property
    def strategies_path(self) -> Path:
        """STRATEGIES_DIR, else the project's strategies/ next to the package (as deployed with it)."""
        if self.strategies_dir:
            return Path(self.strategies_dir)
        return Path(__file__).resolve().parents[3] / "strategies"

    @property
    def mode_label(self) -> str:
        return "PAPER" if self.paper_trading else "LIVE"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
