"""The channel layer: Channels' Redis pub/sub layer, plus batched publishing.

``channels_redis``'s pub/sub layer publishes one group per ``group_send``,
each a Redis round trip taken under the connection's lock, so a message for
five groups was five round trips in a row (and five serialisations of the
same event). :meth:`CharlaLoopLayer.group_send_many` serialises each event
once and sends every ``PUBLISH`` of a batch — of several events, of several
messages — in one pipelined round trip. ``core.realtime`` feeds it from one
:class:`Publisher` per event loop, which gathers what arrives while a batch
is on the wire into the next one (docs/decisions.md, "One round trip per
batch of events").

Everything else (subscriptions, delivery, reconnects) is the library's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

logger = logging.getLogger(__name__)


class CharlaLoopLayer(RedisPubSubLoopLayer):
    def receive_nowait(self, channel: str) -> dict[str, Any] | None:
        """The next message already waiting for ``channel`` in this process,
        or None: a busy consumer takes what has queued up behind the message
        it just handled without a trip through the loop per message
        (``RealtimeConsumer.dispatch``)."""
        queue = self.channels.get(channel)
        if queue is None or queue.empty():
            return None
        return self.channel_layer.deserialize(queue.get_nowait())

    async def group_send_many(self, items: Iterable[tuple[Iterable[str], dict[str, Any]]]) -> None:
        """Send each ``(groups, message)`` to its groups: one serialisation per
        message, one pipelined round trip per Redis shard, order kept."""
        by_shard: dict[int, list[tuple[str, bytes]]] = {}
        for groups, message in items:
            payload = self.channel_layer.serialize(message)
            for group in groups:
                channel = self._get_group_channel_name(group)
                shard = self._get_shard(channel)
                by_shard.setdefault(id(shard), []).append((channel, payload))
        shards = {id(shard): shard for shard in self._shards}
        for key, publishes in by_shard.items():
            shard = shards[key]
            async with shard._lock:
                shard._ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for channel, payload in publishes:
                    pipe.publish(channel, payload)
                await pipe.execute()


class CharlaChannelLayer(RedisPubSubChannelLayer):
    """``channels_redis.pubsub.RedisPubSubChannelLayer`` with
    ``group_send_many`` (same configuration)."""

    def __getattr__(self, name: str) -> Any:
        if name in ("group_send_many", "receive_nowait"):
            return getattr(self._get_layer(), name)
        return super().__getattr__(name)

    def _get_layer(self) -> CharlaLoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = CharlaLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer


class Publisher:
    """Events waiting to go out on one event loop, sent in batches.

    :meth:`enqueue` runs on the loop (``call_soon_threadsafe`` from a worker
    thread). While one batch is on the wire, what arrives waits and leaves in
    the next, so under load many messages share a round trip; an idle server
    sends each event at once. Order is kept: one batch at a time, in arrival
    order.

    Live delivery is best effort (clients ``resume`` by id), so a Redis that
    hangs must not hold the loop's memory hostage: a batch gives up after
    ``TIMEOUT`` seconds, and at most ``MAX_PENDING`` events wait — beyond
    that new ones are dropped and logged (the rows are stored).
    """

    TIMEOUT = 5.0
    MAX_PENDING = 20_000

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.pending: list[tuple[list[str], dict[str, Any], str]] = []
        self.task: asyncio.Task | None = None
        self.dropped = 0

    def enqueue(self, groups: list[str], message: dict[str, Any], event: str) -> None:
        if len(self.pending) >= self.MAX_PENDING:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error("realtime publish backlog full: events dropped", extra={"dropped": self.dropped})
            return
        self.pending.append((groups, message, event))
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                try:
                    await asyncio.wait_for(send_batch(self.layer, batch), self.TIMEOUT)
                except Exception:  # the writes are committed; a dead layer must not undo them
                    logger.exception("realtime publish failed", extra={"events": [e for _, _, e in batch]})
        finally:
            self.task = None


async def send_batch(layer: Any, batch: list[tuple[list[str], dict[str, Any], str]]) -> None:
    """One round trip where the layer can (``group_send_many``); otherwise a
    ``group_send`` per group (other layers, e.g. in-memory)."""
    if isinstance(layer, CharlaChannelLayer):
        await layer.group_send_many([(groups, message) for groups, message, _ in batch])
        return
    for groups, message, event in batch:
        for group in groups:
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("realtime publish failed", extra={"group": group, "event": event})
