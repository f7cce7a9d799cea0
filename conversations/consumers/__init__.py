"""WebSocket consumers: the widget (visitors) and the inbox (agents).

The wire protocol is docs/protocol.md; its contract is PROTOCOL.md.
"""

from .agent import AgentConsumer
from .widget import WidgetConsumer

__all__ = ["AgentConsumer", "WidgetConsumer"]
