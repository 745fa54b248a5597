"""What starts a data refresh: the schedule after the close, or an operator's manual event."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DataRefreshRequest(BaseModel):
    """The schedule sends no fields (or its own envelope, used only for its id). A manual run may name
    `symbols` (refresh only these, e.g. to re-check one ticker) and/or `target_date` (an earlier day to
    bring them up to); without them: every strategy's symbols, up to the last complete trading day."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    trigger_id: str = Field(default_factory=lambda: f"data-refresh-{uuid.uuid4()}", min_length=1)
    symbols: tuple[str, ...] | None = Field(default=None, description="manual: only these symbols")
    target_date: dt.date | None = Field(default=None, description="manual: refresh up to this trading day")

    @field_validator("symbols")
    @classmethod
    def _clean_symbols(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        cleaned = tuple(dict.fromkeys(s.strip().upper() for s in value if s.strip()))
        if not cleaned:
            raise ValueError("symbols, when given, must name at least one symbol")
        return cleaned

    @classmethod
    def from_event(cls, event: dict[str, Any] | None) -> DataRefreshRequest:
        """Accept the schedule's input, a manual payload, or an EventBridge envelope carrying either in detail."""
        event = event or {}
        fields: dict[str, Any] = {}
        detail = event.get("detail")
        if isinstance(detail, dict):
            fields.update({k: v for k, v in detail.items() if k in ("symbols", "target_date")})
        fields.update({k: v for k, v in event.items() if k in ("symbols", "target_date")})
        # EventBridge's envelope id, the Scheduler's <aws.scheduler.execution-id> if the input carries it,
        # or a caller's own id (the local stack)
        event_id = event.get("id") or event.get("execution_id") or event.get("trigger_id")
        if isinstance(event_id, str) and event_id:
            fields["trigger_id"] = event_id
        return cls.model_validate(fields)
