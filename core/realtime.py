"""The one place that sends events to browsers.

Only services call :func:`publish_on_commit`. It registers a
``transaction.on_commit`` callback, so a rolled-back write never reaches a
socket, and sends one ``group_send`` per group with the frame already built:
consumers only forward it. Group names come from the helpers below and never
from client input (ARCHITECTURE §4).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from django.db import transaction
from django.utils import timezone

from .channel_layer import OthersOf, Outgoing, Publisher, send_batch

logger = logging.getLogger(__name__)

#: The consumer handler every event is delivered to (``realtime_event``).
HANDLER_TYPE = "realtime.event"


def group_account(account_id: int) -> str:
    return f"acct.{account_id}"


def group_supervisors(account_id: int) -> str:
    """Agent sockets of members who see every conversation of the account."""
    return f"sup.{account_id}"


def group_queue(account_id: int) -> str:
    """Agent sockets of members who see the account's shared queue (waiting
    conversations without a campaign): every non-supervisor member."""
    return f"queue.{account_id}"


def group_campaign(campaign_id: int) -> str:
    """Agent sockets of members working in the campaign."""
    return f"camp.{campaign_id}"


def group_conversation(conversation_id: int) -> str:
    return f"conv.{conversation_id}"


def group_contact(contact_id: int) -> str:
    return f"contact.{contact_id}"


def group_member(membership_id: int) -> str:
    return f"member.{membership_id}"


class _FrameIds:
    """Frame ids unique across processes — what a socket drops a second copy
    of a frame by: a random prefix per process, taken again in a forked
    child, and a counter. (``uuid4`` read the system's random source per
    frame.)"""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix, self.counter = secrets.token_hex(8), itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):x}"


_frame_ids = _FrameIds()


def build_frame(event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": event,
        "id": _frame_ids.next(),
        "ts": timezone.now().isoformat().replace("+00:00", "Z"),
        "data": data,
    }


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the server's event loop (``config.asgi`` calls this on every
    connection): events sent from its worker threads are handed to it without
    waiting for Redis."""
    global _server_loop
    _server_loop = loop


_server_loop: asyncio.AbstractEventLoop | None = None
_publishers: dict[asyncio.AbstractEventLoop, Any] = {}


def _publisher(layer: Any) -> Any:
    loop = asyncio.get_running_loop()
    publisher = _publishers.get(loop)
    if publisher is None or publisher.layer is not layer:
        for old in [known for known in _publishers if known.is_closed()]:
            del _publishers[old]
        publisher = _publishers[loop] = Publisher(layer)
    return publisher


def _enqueue(layer: Any, outgoing: Outgoing) -> None:
    _publisher(layer).enqueue(outgoing)


class _Handoff:
    """Events from worker threads waiting for the server's loop, in order.

    One ``call_soon_threadsafe`` (a wake-up of the loop: a write to its
    self-pipe) per bunch rather than per event: a message's three events,
    and whatever other threads add before the loop runs, go over together.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[Any, Outgoing]] = []

    def put(self, loop: asyncio.AbstractEventLoop, item: tuple[Any, Outgoing]) -> None:
        with self.lock:
            self.items.append(item)
            first = len(self.items) == 1
        if not first:  # a drain is already scheduled and will take it
            return
        try:
            loop.call_soon_threadsafe(self.drain)
        except RuntimeError:  # the loop closed under us (shutdown): nobody will drain
            with self.lock:
                lost, self.items = len(self.items), []
            logger.error("realtime events dropped: the server's loop is closed", extra={"events": lost})

    def drain(self) -> None:
        with self.lock:
            items, self.items = self.items, []
        for item in items:
            _enqueue(*item)


_handoff = _Handoff()


def _on_a_loop() -> bool:
    """Whether this thread runs an event loop now. (``get_running_loop``
    raises elsewhere: an exception and its traceback per event was cyclic
    garbage for the collector.)"""
    return asyncio._get_running_loop() is not None


def send_now(*, groups: list[str], event: str, data: dict[str, Any], meta: dict[str, Any] | None = None,
             others_of: OthersOf | None = None) -> None:
    """Send at once. Only for ephemeral signals that write nothing (typing),
    and for :func:`publish_on_commit` once committed.

    On the server's loop it goes to the loop's publisher at once. On a
    worker thread of the running server the event is handed to the
    server's loop (``_Handoff``, ``call_soon_threadsafe``) and the thread goes on: the
    loop's :class:`~core.channel_layer.Publisher` sends it, with whatever
    else is waiting, in one Redis round trip, in the order handed over.
    Anywhere else (Celery, commands, sync tests) it is sent before this
    returns. ``others_of``: the event is for a subject's sockets other than
    one (``core.channel_layer.OthersOf``), and is not published when that
    one is the subject's only live socket."""
    layer = get_channel_layer()
    if layer is None:
        return
    frame = build_frame(event, data)
    message = {"type": HANDLER_TYPE, "frame": frame, "meta": meta or {}}
    outgoing = Outgoing(list(dict.fromkeys(groups)), message, event, others_of)
    if _on_a_loop():  # its publisher sends it
        _enqueue(layer, outgoing)
        return
    loop = _server_loop
    if loop is not None and loop.is_running():
        _handoff.put(loop, (layer, outgoing))
        return
    async_to_sync(_send_groups)(layer, outgoing)


async def _send_groups(layer: Any, outgoing: Outgoing) -> None:
    try:
        await send_batch(layer, [outgoing])
    except Exception:  # the write is committed; a dead layer must not undo it
        logger.exception("realtime publish failed", extra={"groups": outgoing.groups, "event": outgoing.event})


def publish_on_commit(
    *, groups: list[str], event: str, data: dict[str, Any], meta: dict[str, Any] | None = None,
    others_of: OthersOf | None = None,
) -> None:
    """Send ``event`` to ``groups`` once the current transaction commits.

    ``meta`` travels beside the frame for consumers to filter on (for example
    the conversation's assignee and campaign, so an agent socket forwards only
    what its agent may see) and is never sent to a client.

    On an event loop it is sent at once: Django runs no database work there,
    so no transaction of its can be open (the loop's own writes,
    ``core.adb``, are single statements in autocommit, committed by then).
    """
    if not _on_a_loop():
        transaction.on_commit(lambda: send_now(groups=groups, event=event, data=data, meta=meta, others_of=others_of))
        return
    send_now(groups=groups, event=event, data=data, meta=meta, others_of=others_of)
