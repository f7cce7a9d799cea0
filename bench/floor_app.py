"""The floor: the least a chat relay can do on this stack.

A bare Channels consumer served by the same ASGI server, the same channel
layer (``settings.CHANNEL_LAYERS``) and the same database settings
(``DATABASES``, including the psycopg pool) as Charla, with the same client
pattern as ``bench/realtime.py``:

* ``/ws/floor/?role=visitor&room=<n>`` — each ``message.send`` inserts one
  row into ``bench_floor`` (raw SQL, one statement, autocommit), then
  ``group_send``s the frame to ``floor.<room>`` and answers ``message.ack``.
* ``/ws/floor/?role=agent&rooms=<n>,<m>,…`` — joins ``floor.<room>`` for each
  room and forwards every frame.

No auth, no tenancy, no locking, no template rendering, no presence: the
difference between this and the real consumers is the cost of the product.
The table is created by ``bench.data.floor_table_reset`` (bench database only).

Run: ``uvicorn bench.floor_app:application`` (``bench/realtime.py`` does it).
"""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from channels.consumer import get_handler_name  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from django.db import connection  # noqa: E402
from django.urls import path  # noqa: E402

# The insert runs on the loop's default thread pool (thread_sensitive=False);
# BENCH_FLOOR_THREAD_SENSITIVE=1 uses asgiref's single shared thread instead
# (Channels' default for database_sync_to_async).
_THREAD_SENSITIVE = os.environ.get("BENCH_FLOOR_THREAD_SENSITIVE", "0") != "0"
if os.environ.get("BENCH_SWITCH_INTERVAL"):
    import sys

    sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
# BENCH_FLOOR_DISPATCH=channels keeps Channels' default dispatch (see FloorConsumer.dispatch).
_DIRECT_DISPATCH = os.environ.get("BENCH_FLOOR_DISPATCH", "direct") != "channels"


_INSERT_SQL = "INSERT INTO bench_floor (room, client_id, body) VALUES (%s, %s, %s) RETURNING id, created_at"


def _insert(room: int, client_id: str, body: str) -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL,
            [room, client_id, body],
        )
        row_id, created_at = cursor.fetchone()
    return row_id, created_at.isoformat()


_insert_on_thread = database_sync_to_async(_insert, thread_sensitive=_THREAD_SENSITIVE)

# BENCH_FLOOR_DB=loop inserts from the event loop on ``core.adb``'s async pool
# (what Charla's visitor send uses since session 4), for a floor with the same tool.
_ON_LOOP = os.environ.get("BENCH_FLOOR_DB", "thread") == "loop"
async def _insert_on_loop(room: int, client_id: str, body: str) -> tuple[int, str]:
    from core import adb

    pool = await adb.pool()
    async with pool.connection() as aconnection:
        cursor = await aconnection.execute(_INSERT_SQL, [room, client_id, body], prepare=True)
        row_id, created_at = await cursor.fetchone()
    return row_id, created_at.isoformat()


insert_row = _insert_on_loop if _ON_LOOP else _insert_on_thread


class FloorConsumer(AsyncWebsocketConsumer):
    if _DIRECT_DISPATCH:
        async def dispatch(self, message):
            # Channels >= 4.2 runs close_old_connections() (a hop through
            # asgiref's single sync thread) before *every* handler. The floor's
            # only database access is insert_row, which already closes around
            # itself, so it dispatches directly.
            handler = getattr(self, get_handler_name(message), None)
            if handler is None:
                raise ValueError(f"No handler for message type {message['type']}")
            await handler(message)

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.role = (query.get("role") or ["visitor"])[0]
        if self.role == "agent":
            rooms = [int(r) for r in (query.get("rooms") or [""])[0].split(",") if r]
            for room in rooms:
                await self.channel_layer.group_add(f"floor.{room}", self.channel_name)
            self.rooms = rooms
        else:
            self.room = int((query.get("room") or ["0"])[0])
        await self.accept()

    async def disconnect(self, code):
        for room in getattr(self, "rooms", []):
            await self.channel_layer.group_discard(f"floor.{room}", self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data or "{}")
        kind = frame.get("type")
        if kind == "ping":
            await self.send('{"type":"pong","data":{}}')
            return
        if kind != "message.send" or self.role != "visitor":
            await self.send(json.dumps({"type": "error", "data": {"code": "invalid", "message": "unknown type"}}))
            return
        data = frame.get("data") or {}
        client_id = str(data.get("client_id") or "")[:64]
        content = str(data.get("content") or "")
        row_id, created_at = await insert_row(self.room, client_id, content)
        message = {"id": row_id, "conversation_id": self.room, "client_id": client_id,
                   "content": content, "created_at": created_at}
        await self.channel_layer.group_send(
            f"floor.{self.room}",
            {"type": "floor.event", "text": json.dumps({"type": "message.created", "data": {"message": message}})},
        )
        await self.send(json.dumps({"type": "message.ack", "data": {"client_id": client_id, "message": message}}))

    async def floor_event(self, event):
        await self.send(event["text"])


from core import process  # noqa: E402

process.tune_gc()  # as config.asgi does for Charla

application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("ws/floor/", FloorConsumer.as_asgi())])}
)
