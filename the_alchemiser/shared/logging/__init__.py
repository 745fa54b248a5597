from the_alchemiser.shared.logging.setup import (
    bind_workflow_context,
    configure_logging,
    get_logger,
    workflow_context,
)

__all__ = ["bind_workflow_context", "configure_logging", "get_logger", "workflow_context"]
