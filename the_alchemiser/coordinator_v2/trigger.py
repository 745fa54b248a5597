"""What starts the orchestrator: the schedule (EventBridge Scheduler) or an operator's manual event."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class OrchestratorTrigger(BaseModel):
    """`{"force": true, "date": "YYYY-MM-DD"}` for a manual rerun; the schedule sends
    `{"trigger": "schedule", "scheduled_time": ..., "execution_id": ...}` (only the id is used)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    force: bool = Field(default=False, strict=True)  # a JSON true, never "yes" or 1
    date: dt.date | None = Field(default=None, description="trading date to run (manual runs only, with force)")
    trigger_id: str = Field(default_factory=lambda: f"trigger-{uuid.uuid4()}", min_length=1)

    @model_validator(mode="after")
    def _date_needs_force(self) -> OrchestratorTrigger:
        if self.date is not None and not self.force:
            raise ValueError("a date may only be given with force: true (a manual rerun)")
        return self

    @classmethod
    def from_event(cls, event: dict[str, Any] | None) -> OrchestratorTrigger:
        """Accept the schedule's input, a manual payload, or an EventBridge envelope carrying either in detail."""
        event = event or {}
        if not isinstance(event, dict):
            raise ValueError(f"the orchestrator's event must be a JSON object, not {type(event).__name__}")
        fields: dict[str, Any] = {}
        detail = event.get("detail")
        if isinstance(detail, dict):
            fields.update(detail)
        fields.update({k: v for k, v in event.items() if k in ("force", "date")})
        # EventBridge's envelope id, the Scheduler's execution id (template Input), or a manual id
        event_id = event.get("id") or event.get("execution_id") or event.get("trigger_id")
        if isinstance(event_id, str) and event_id:
            fields["trigger_id"] = event_id
        return cls.model_validate(fields)
