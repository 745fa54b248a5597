"""Event models, parsing and publishing."""

from the_alchemiser.shared.events.models import (
    EVENT_TYPES,
    AnyEvent,
    BaseEvent,
    EventOrigin,
    EventParseError,
    PartialSignalGenerated,
    RebalancePlanned,
    SignalGenerated,
    TradeExecuted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
    parse_event,
)

__all__ = [
    "EVENT_TYPES",
    "AnyEvent",
    "BaseEvent",
    "EventOrigin",
    "EventParseError",
    "PartialSignalGenerated",
    "RebalancePlanned",
    "SignalGenerated",
    "TradeExecuted",
    "WorkflowCompleted",
    "WorkflowFailed",
    "WorkflowStarted",
    "parse_event",
]

from the_alchemiser.shared.events.publisher import (
    EventBridgePublisher,
    EventPublisher,
    InMemoryPublisher,
    PayloadStore,
    S3PayloadStore,
    decode_event,
    encode_detail,
)

__all__ += [
    "EventBridgePublisher",
    "EventPublisher",
    "InMemoryPublisher",
    "PayloadStore",
    "S3PayloadStore",
    "decode_event",
    "encode_detail",
]
