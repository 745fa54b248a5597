from the_alchemiser.shared.logging.lambda_context import with_lambda_context
from the_alchemiser.shared.logging.setup import (
    bind_workflow_context,
    configure_logging,
    get_logger,
    log_stream,
    log_trace_fields,
    workflow_context,
)

__all__ = [
    "bind_workflow_context",
    "configure_logging",
    "get_logger",
    "log_stream",
    "log_trace_fields",
    "with_lambda_context",
    "workflow_context",
]
