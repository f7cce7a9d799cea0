"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Django is set up before any consumer is imported (Channels' documented order).
Origin checks live in each consumer's middleware: the inbox socket accepts only
ALLOWED_HOSTS origins, the widget socket only the site's allowed domains.
"""

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from core import process, realtime  # noqa: E402

process.tune_gc()  # after start-up: what it made is frozen

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)


async def application(scope, receive, send):
    # Events committed on the server's worker threads go out through this
    # loop without blocking them (core.realtime.send_now).
    realtime.bind_loop(asyncio.get_running_loop())
    return await router(scope, receive, send)
