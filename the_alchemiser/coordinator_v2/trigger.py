"""What starts the orchestrator: the schedule (EventBridge Scheduler) or an operator's manual event."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class OrchestratorTrigger(BaseModel):
    """`{"force": true, "date": "YYYY-MM-DD"}` for a manual rerun; the schedule sends no fields (or its
    own envelope, which is ignored apart from its id)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    force: bool = False
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
        fields: dict[str, Any] = {}
        detail = event.get("detail")
        if isinstance(detail, dict):
            fields.update(detail)
        fields.update({k: v for k, v in event.items() if k in ("force", "date")})
        event_id = event.get("id") or event.get("trigger_id")
        if isinstance(event_id, str) and event_id:
            fields["trigger_id"] = event_id
        return cls.model_validate(fields)
