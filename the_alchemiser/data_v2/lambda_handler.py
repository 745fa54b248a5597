"""Data Refresh Lambda: the schedule after the close (or a manual `{"symbols": [...], "target_date": ...}`)."""

from __future__ import annotations

from typing import Any

from the_alchemiser.data_v2.request import DataRefreshRequest
from the_alchemiser.data_v2.service import DataRefreshService
from the_alchemiser.data_v2.wiring import get_service
from the_alchemiser.shared.logging import with_lambda_context
from the_alchemiser.shared.rejections import message_id_of, rejecting


def handle(event: dict[str, Any] | None, service: DataRefreshService) -> dict[str, Any]:
    with rejecting(message_id_of(event), source="schedule"):
        request = DataRefreshRequest.from_event(event)
    return service.run(request)


@with_lambda_context
def lambda_handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    return handle(event, get_service())
