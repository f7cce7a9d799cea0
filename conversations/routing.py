"""WebSocket routes (included by ``config.routing``).

Origins are checked inside each consumer: the inbox against ALLOWED_HOSTS,
the widget against its site's domains (see ``conversations.ws_auth``). Only
the inbox reads the session cookie, once at connect
(``ws_auth.session_user``).
"""

from django.urls import path

from .consumers import AgentConsumer, WidgetConsumer

websocket_urlpatterns = [
    path("ws/widget/", WidgetConsumer.as_asgi()),
    path("ws/agent/", AgentConsumer.as_asgi()),
]
