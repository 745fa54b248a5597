"""The broker port, its models and errors."""

from the_alchemiser.shared.broker.errors import *  # noqa: F403
from the_alchemiser.shared.broker.models import *  # noqa: F403
from the_alchemiser.shared.broker.port import BrokerPort

__all__ = ["BrokerPort"]
