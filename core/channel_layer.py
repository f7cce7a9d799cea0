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

Two more savings on the receiving side, where each Redis message costs every
process that subscribes to it a parse, a queue hand-off per local socket and
a consumer turn:

* **Bundles.** Events of a batch that go to the same group one after the
  other (a visitor's message and the conversation's new state, both for the
  assignee's ``member.<id>``) travel as one Redis message, a
  :data:`BUNDLE_TYPE` message the consumers unpack (``RealtimeConsumer``).
  Only adjacent publishes are merged, so every socket sees events in the
  order they were sent; the groups of one event are ordered so that the one
  it shares with its neighbours sits next to them.
* **Only for the others** (:class:`OthersOf`). An event meant for a
  subject's sockets except the one that caused it (a visitor's message, for
  their other tabs: the sending tab has the ack) is published by a Lua
  script in the same pipeline, which skips the ``PUBLISH`` when that socket
  is the subject's only live one (``core.presence``'s sorted set).

Everything else (subscriptions, delivery, reconnects) is the library's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, NamedTuple

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

logger = logging.getLogger(__name__)

#: The type of a message that carries several (``"messages"``), in order.
BUNDLE_TYPE = "layer.bundle"
#: Events in one bundle at most (a socket handles a bundle in one turn).
BUNDLE_MAX = 32


class OthersOf(NamedTuple):
    """The event is for the sockets of a subject other than ``channel``:
    ``key`` is the subject's live sockets (a sorted set of channel names,
    ``core.presence``). Not published when ``channel`` is its only member.

    Safe against a socket that connects meanwhile: the check runs after the
    write committed, and a socket registers itself before it subscribes and
    reads what it missed (``resume``), so one that the check does not see
    reads the write from the database."""

    key: str
    channel: str


#: KEYS[1]: the subject's live sockets; ARGV: Redis channel, payload, the sender's channel name.
_OTHERS_OF_LUA = """
if redis.call('ZCARD', KEYS[1]) == 1 and redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
return redis.call('PUBLISH', ARGV[1], ARGV[2])
"""


class Outgoing(NamedTuple):
    """One event to publish: to ``groups``, ``event`` its name for logs,
    ``others_of`` when only the subject's other sockets want it."""

    groups: list[str]
    message: dict[str, Any]
    event: str = ""
    others_of: OthersOf | None = None


def _arranged(items: list[tuple[list[str], dict[str, Any], OthersOf | None]]) -> list[tuple[str, dict[str, Any], OthersOf | None]]:
    """The publishes of ``items`` in order, each item's channels arranged so
    that one it shares with the item before comes first and one it shares
    with the item after comes last (the order of one event's groups is free:
    a socket in two of them takes the first copy and drops the second)."""
    out: list[tuple[str, dict[str, Any], OthersOf | None]] = []
    last: str | None = None
    for i, (channels, message, others_of) in enumerate(items):
        after = items[i + 1][0] if i + 1 < len(items) else ()
        head = [c for c in channels if c == last]
        rest = [c for c in channels if c != last]
        tail = next((c for c in rest if c in after), None)
        order = head + [c for c in rest if c != tail] + ([tail] if tail is not None else [])
        out += [(channel, message, others_of) for channel in order]
        last = order[-1] if order else None
    return out


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

    async def group_send_many(self, items: Iterable[Outgoing]) -> None:
        """Send each :class:`Outgoing` to its groups: one serialisation per
        message, adjacent publishes to one group bundled, one pipelined round
        trip per Redis shard, order kept."""
        rows = [
            (list(dict.fromkeys(self._get_group_channel_name(g) for g in item.groups)), item.message, item.others_of)
            for item in items
        ]
        # Per shard: [channel, messages, others_of], adjacent ones merged.
        by_shard: dict[int, list[list[Any]]] = {}
        for channel, message, others_of in _arranged(rows):
            shard = self._get_shard(channel)
            publishes = by_shard.setdefault(id(shard), [])
            previous = publishes[-1] if publishes else None
            if (previous is not None and previous[0] == channel and others_of is None and previous[2] is None
                    and len(previous[1]) < BUNDLE_MAX):
                previous[1].append(message)
            else:
                publishes.append([channel, [message], others_of])
        serialize = self.channel_layer.serialize
        payloads: dict[int, bytes] = {}
        shards = {id(shard): shard for shard in self._shards}
        for key, publishes in by_shard.items():
            shard = shards[key]
            async with shard._lock:
                shard._ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for channel, messages, others_of in publishes:
                    if len(messages) == 1:
                        message = messages[0]
                        payload = payloads.get(id(message))
                        if payload is None:
                            payload = payloads[id(message)] = serialize(message)
                    else:
                        payload = serialize({"type": BUNDLE_TYPE, "messages": messages})
                    if others_of is None:
                        pipe.publish(channel, payload)
                    else:
                        pipe.eval(_OTHERS_OF_LUA, 1, others_of.key, channel, payload, others_of.channel)
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
        self.pending: list[Outgoing] = []
        self.task: asyncio.Task | None = None
        self.dropped = 0

    def enqueue(self, outgoing: Outgoing) -> None:
        if len(self.pending) >= self.MAX_PENDING:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error("realtime publish backlog full: events dropped", extra={"dropped": self.dropped})
            return
        self.pending.append(outgoing)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                try:
                    await asyncio.wait_for(send_batch(self.layer, batch), self.TIMEOUT)
                except Exception:  # the writes are committed; a dead layer must not undo them
                    logger.exception("realtime publish failed", extra={"events": [o.event for o in batch]})
        finally:
            self.task = None


async def send_batch(layer: Any, batch: list[Outgoing]) -> None:
    """One round trip where the layer can (``group_send_many``); otherwise a
    ``group_send`` per group (other layers, e.g. in-memory, which publish an
    ``others_of`` event anyway: the sender's socket drops its own echo)."""
    if isinstance(layer, CharlaChannelLayer):
        await layer.group_send_many(batch)
        return
    for outgoing in batch:
        for group in outgoing.groups:
            try:
                await layer.group_send(group, outgoing.message)
            except Exception:
                logger.exception("realtime publish failed", extra={"group": group, "event": outgoing.event})
