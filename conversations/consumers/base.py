"""What both sockets share: frame intake, limits, errors, forwarding.

A consumer stays thin (STYLE.md, "Channels docs — thin consumers"):
``connect()`` authenticates and joins groups computed on the server;
each client frame is parsed and validated here on the event loop, then
handled with at most one worker-thread hop that calls services; events from
the channel layer are only filtered and forwarded.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from core import exceptions as domain
from core.background import run_later, wait_background  # noqa: F401 - the consumers' and tests' import
from core.channel_layer import BUNDLE_TYPE
from core.metrics import deliveries_total, delivery_latency, labelled, ws_connections
from core.realtime import HANDLER_TYPE, build_frame

from . import frames

logger = logging.getLogger(__name__)

DEFAULT_RATE_WINDOW_SECONDS = 10
DEFAULT_MAX_FRAME_BYTES = 64 * 1024
RECENT_FRAME_IDS = 512
#: Channel-layer messages a socket handles in one turn of the loop at most.
DRAIN_MAX = 64
_FROM_THE_LAYER = (HANDLER_TYPE, BUNDLE_TYPE)

def hop(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Run ``fn`` in a worker thread with fresh database connections.

    Not thread-sensitive: frames of different sockets use the database in
    parallel (each thread has its own pooled connection). One socket still
    handles its frames one after another, so its own order is kept.
    """
    return database_sync_to_async(fn, thread_sensitive=False)


def rate_window() -> int:
    """Seconds of the per-connection and per-contact flood windows."""
    return int(settings.CHARLA.get("RATE_LIMIT_WINDOW_SECONDS", DEFAULT_RATE_WINDOW_SECONDS))


def _iso_age(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return max(0.0, time.time() - datetime.fromisoformat(value).timestamp())
    except ValueError:
        return None


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    #: metrics label
    kind = "socket"
    #: client frame type → coroutine method taking :class:`frames.Fields`
    frame_handlers: dict[str, str] = {}
    #: language of error texts, set once authenticated (None: English)
    language: str | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ready = False
        self._counted = False
        self._recent: deque[str] = deque(maxlen=RECENT_FRAME_IDS)
        self._recent_ids: set[str] = set()
        self._window_start = 0.0
        self._window_count = 0
        self._limit = 0
        self._window = DEFAULT_RATE_WINDOW_SECONDS
        self._max_bytes = DEFAULT_MAX_FRAME_BYTES

    # --- lifecycle -------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale DB connections before every handler, which is a
        # thread hop per forwarded event. Every database call here goes through
        # ``hop`` (which does that itself), so skip it.
        await self._handle(message)
        if message.get("type") not in _FROM_THE_LAYER:
            return
        # An event from the channel layer: handle the ones queued behind it
        # now. Channels takes each through its dispatch loop (a new task and
        # ``asyncio.wait``, three loop turns per event), and under load a
        # busy socket (an agent with many chats, a supervisor) fell behind
        # what it was sent: its queue grew and its frames arrived seconds
        # late. Capped, so one socket does not hold the loop.
        take = getattr(self.channel_layer, "receive_nowait", None)
        if take is None:
            return
        for _turn in range(DRAIN_MAX):
            queued = take(self.channel_name)
            if queued is None:
                return
            await self._handle(queued)

    async def _handle(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def layer_bundle(self, message: dict[str, Any]) -> None:
        """Events that travelled as one channel-layer message
        (``core.channel_layer``'s bundles), in order."""
        for inner in message.get("messages") or ():
            await self._handle(inner)

    async def deny(self, code: int, reason: str) -> None:
        """Refuse after the handshake so browsers see the close code (a close
        before ``accept`` reaches them as a bare HTTP 403)."""
        await self.accept()
        await self.close(code=code, reason=reason)

    async def opened(self) -> None:
        conf = settings.CHARLA
        self._limit = int(conf.get("RATE_LIMIT_PER_CONNECTION", 20))
        self._window = rate_window()
        self._max_bytes = int(conf.get("WS_MAX_FRAME_BYTES", DEFAULT_MAX_FRAME_BYTES))
        self._counted = True
        self.ready = True
        # Error texts in the language of the person on the other end, for
        # the rest of the socket's life: the consumer's task keeps it (a
        # context variable), and its worker-thread hops and tasks inherit
        # it. (An override around every frame was 1.6 % of a message's CPU.)
        if self.language:
            translation.activate(self.language)
        else:
            translation.deactivate_all()
        ws_connections.labels(kind=self.kind).inc()
        await self.accept()

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self.ready = False
        if self._counted:
            self._counted = False
            ws_connections.labels(kind=self.kind).dec()
        await super().websocket_disconnect(message)

    # --- client frames ---------------------------------------------------------

    def _within_limit(self) -> bool:
        now = time.monotonic()
        if now - self._window_start >= self._window:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        return self._window_count <= self._limit

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if not self.ready:
            return
        await self._receive(text_data)

    async def _receive(self, text_data: str | None) -> None:
        allowed = self._within_limit()
        client_id = None
        try:
            kind, data = frames.parse(text_data, max_bytes=self._max_bytes)
            client_id = frames.client_id_of(data)
            if not allowed:
                raise domain.RateLimited(
                    _("Too many frames: at most %(n)s every %(s)s seconds on one connection.")
                    % {"n": self._limit, "s": self._window}
                )
            method = self.frame_handlers.get(kind)
            if method is None:
                await self.send_json(
                    frames.error_frame("unknown_type", _("Unknown frame type."), client_id=client_id)
                )
                return
            await getattr(self, method)(frames.Fields(data))
        except domain.CharlaError as exc:
            await self.send_json(frames.error_frame_for(exc, client_id=client_id))
        except Exception:
            logger.exception("socket frame failed", extra={"socket": self.kind})
            await self.send_json(
                frames.error_frame("internal", _("Something went wrong. Please try again."), client_id=client_id)
            )

    async def pong(self) -> None:
        await self.send_json(build_frame("pong", {}))

    # --- events from the channel layer -----------------------------------------

    async def realtime_event(self, event: dict[str, Any]) -> None:
        frame = event.get("frame")
        if not self.ready or not isinstance(frame, dict):
            return
        frame_id = frame.get("id")
        if frame_id:
            # One frame can reach a socket through two groups (conv.<id> and
            # member.<id>): forward it once.
            if frame_id in self._recent_ids:
                return
            if len(self._recent) == self._recent.maxlen:
                self._recent_ids.discard(self._recent[0])
            self._recent.append(frame_id)
            self._recent_ids.add(frame_id)
        meta = event.get("meta") or {}
        if not self.may_forward(frame, meta):
            return
        await self.forward(frame, meta)

    def may_forward(self, frame: dict[str, Any], meta: dict[str, Any]) -> bool:
        return True

    async def forward(self, frame: dict[str, Any], meta: dict[str, Any]) -> None:
        await self.send_json(frame)
        labelled(deliveries_total, self.kind).inc()
        if frame.get("type") == "message.created":
            message = (frame.get("data") or {}).get("message") or {}
            age = _iso_age(message.get("created_at"))
            if age is not None:
                delivery_latency.observe(age)
