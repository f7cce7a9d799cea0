"""Faults: a client that drops mid-send, a channel-layer outage, and a burst
of messages. Nothing is lost, nothing is doubled, ``resume`` fills gaps."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from django.conf import settings

from accounts.models import Membership
from conversations import services
from conversations.models import Message
from tests.conversations.wsutil import (  # noqa: F401
    agent_socket,
    close,
    frames_until,
    realtime_env,
    receive,
    widget_socket,
)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


@pytest.fixture
def away(agent):
    Membership.objects.filter(pk=agent.pk).update(availability=Membership.Availability.AWAY)


def _send(conversation_id, client_id, content):
    return {"type": "message.send", "data": {"conversation_id": conversation_id, "client_id": client_id, "content": content}}


def _rows(conversation_id):
    return list(
        Message.objects.filter(conversation_id=conversation_id, sender_type="contact")
        .order_by("id")
        .values_list("id", "client_id")
    )


async def test_drop_mid_send_then_retry_gets_exactly_one_message(contact, conversation):
    # A tab that closes right after sending, before it reads the ack.
    tab = await widget_socket(contact)
    await tab.send_json_to(_send(conversation.pk, "drop-1", "did this arrive?"))
    await tab.disconnect()
    retry = await widget_socket(contact)
    await retry.send_json_to(_send(conversation.pk, "drop-1", "did this arrive?"))
    ack = await receive(retry, "message.ack")

    # A connection that dies abruptly (the server task is cancelled mid-send).
    crash = await widget_socket(contact)
    await crash.send_json_to(_send(conversation.pk, "drop-2", "and this?"))
    await asyncio.sleep(0)
    crash.future.cancel()
    await retry.send_json_to(_send(conversation.pk, "drop-2", "and this?"))
    ack2 = await receive(retry, "message.ack")

    rows = await db(_rows)(conversation.pk)
    assert rows == [(ack["data"]["message"]["id"], "drop-1"), (ack2["data"]["message"]["id"], "drop-2")]
    await close(retry)


def _ids_after(conversation, after_id, private):
    from conversations.selectors import message_list

    return [m.pk for m in message_list(conversation=conversation, after=after_id, limit=1000, include_private=private)]


def _own_redis_addresses() -> list[str]:
    """``host:port`` (client side) of every Redis connection the channel layer
    of this event loop holds: the pub/sub listener and the publishers."""
    layer = get_channel_layer()._get_layer()
    addresses = []
    for shard in layer._shards:
        conns = []
        if shard._pubsub is not None and shard._pubsub.connection is not None:
            conns.append(shard._pubsub.connection)
        if shard._redis is not None:
            pool = shard._redis.connection_pool
            conns += list(pool._get_free_connections()) + list(pool._get_in_use_connections())
        for conn in conns:
            writer = getattr(conn, "_writer", None)
            if writer is not None:
                host, port = writer.get_extra_info("sockname")[:2]
                addresses.append(f"{host}:{port}")
    return addresses


def _kill(addresses: list[str]) -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    killed = 0
    for address in addresses:
        try:
            killed += client.client_kill_filter(_id=None, addr=address)
        except redis.ResponseError:
            pass
    client.close()
    return killed


async def test_channel_layer_outage_then_reconnect_and_resume(away, contact, conversation, agent):
    visitor = await widget_socket(contact)
    inbox = await agent_socket(agent)
    await inbox.send_json_to({"type": "conversation.join", "data": {"conversation_id": conversation.pk}})
    await receive(inbox, "conversation.joined")
    await visitor.send_json_to(_send(conversation.pk, "before", "before the outage"))
    last_seen = (await receive(visitor, "message.ack"))["data"]["message"]["id"]
    assert (await receive(inbox, "message.created"))["data"]["message"]["id"] == last_seen

    # Redis drops every connection of this process's channel layer.
    assert await asyncio.to_thread(_kill, _own_redis_addresses()) >= 1

    def write_during_outage():
        ids = []
        for i in range(3):
            ids.append(services.message_send(conversation=conversation, sender_type="contact", content=f"gap {i}").message.pk)
            ids.append(services.agent_message_send(membership=agent, conversation_id=conversation.pk, content=f"re {i}").message.pk)
        return ids

    missed = await db(write_during_outage)()
    await visitor.disconnect()
    await inbox.disconnect()

    # The clients reconnect and catch up from the last id they saw.
    visitor = await widget_socket(contact)
    inbox = await agent_socket(agent)
    for comm, private in ((visitor, False), (inbox, True)):
        expected = await db(_ids_after)(conversation, last_seen, private)
        assert set(missed) <= set(expected)
        await comm.send_json_to({"type": "resume", "data": {"conversation_id": conversation.pk, "after_id": last_seen}})
        frames = await frames_until(comm, "resume.done", timeout=10)
        created = [f["data"]["message"]["id"] for f in frames if f["type"] == "message.created"]
        # Late live copies of the outage's frames may come first (a client
        # keys by id); the replay itself is one block, in order, at the end.
        assert created[-len(expected):] == expected, (created, expected)
        assert frames[-1]["data"]["last_id"] == expected[-1]

    # And live delivery works again after the outage.
    await inbox.send_json_to({"type": "conversation.join", "data": {"conversation_id": conversation.pk}})
    await receive(inbox, "conversation.joined")
    await visitor.send_json_to(_send(conversation.pk, "after", "back online"))
    ack = await receive(visitor, "message.ack")
    message_id = ack["data"]["message"]["id"]
    created = await receive(inbox, "message.created", timeout=5)
    while created["data"]["message"]["id"] != message_id:
        created = await receive(inbox, "message.created", timeout=5)
    await close(visitor, inbox)


async def test_burst_of_200_messages_is_stored_once_each_in_order(away, contact, conversation, agent):
    inbox = await agent_socket(agent)
    await inbox.send_json_to({"type": "conversation.join", "data": {"conversation_id": conversation.pk}})
    await receive(inbox, "conversation.joined")
    visitor = await widget_socket(contact)
    client_ids = [f"burst-{i:03d}-{uuid.uuid4().hex[:6]}" for i in range(200)]

    # Pipelined: every frame goes out before any ack is read.
    for i, client_id in enumerate(client_ids):
        await visitor.send_json_to(_send(conversation.pk, client_id, f"message {i}"))
    acks = [(await receive(visitor, "message.ack", timeout=60))["data"] for _ in client_ids]
    assert [a["client_id"] for a in acks] == client_ids
    assert not any(a["duplicate"] for a in acks)

    rows = await db(_rows)(conversation.pk)
    assert [client_id for _id, client_id in rows] == client_ids
    assert [row_id for row_id, _c in rows] == [a["message"]["id"] for a in acks]

    received = []
    while len(received) < 200:
        frame = await receive(inbox, "message.created", timeout=30)
        received.append(frame["data"]["message"]["id"])
    assert received == [row_id for row_id, _c in rows]
    await close(inbox, visitor)


async def test_two_tabs_racing_the_same_client_ids_store_each_once(contact, conversation):
    tab1 = await widget_socket(contact)
    tab2 = await widget_socket(contact)
    client_ids = [f"race-{i}-{uuid.uuid4().hex[:6]}" for i in range(20)]
    for client_id in client_ids:
        await tab1.send_json_to(_send(conversation.pk, client_id, client_id))
        await tab2.send_json_to(_send(conversation.pk, client_id, client_id))
    acks1 = [(await receive(tab1, "message.ack", timeout=30))["data"] for _ in client_ids]
    acks2 = [(await receive(tab2, "message.ack", timeout=30))["data"] for _ in client_ids]
    ids1 = {a["client_id"]: a["message"]["id"] for a in acks1}
    ids2 = {a["client_id"]: a["message"]["id"] for a in acks2}
    assert ids1 == ids2
    rows = await db(_rows)(conversation.pk)
    assert sorted(c for _i, c in rows) == sorted(client_ids)
    assert {c: i for i, c in rows} == ids1
    await close(tab1, tab2)

