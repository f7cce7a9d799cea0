"""A visitor's message into their open chat is sent from the socket's event
loop (``services.contact_message_send_async``, the one statement on
``core.adb``'s connection); every other case falls back to the worker
thread, which answers it as before."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import pytest
from channels.db import database_sync_to_async

from conversations import services
from conversations.consumers import widget
from conversations.models import Conversation, Message
from tests.conversations.wsutil import (  # noqa: F401
    agent_socket,
    close,
    drain,
    realtime_env,
    receive,
    widget_socket,
)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def _send(conversation_id, client_id, content="hola"):
    return {"type": "message.send", "data": {"conversation_id": conversation_id, "client_id": client_id, "content": content}}


@pytest.fixture
def no_thread_send(monkeypatch):
    """Fail the worker-thread send: what still works went over the loop."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(kwargs.get("client_id"))
        raise AssertionError("the worker-thread send ran")

    monkeypatch.setattr(widget, "_send", refuse)
    return calls


async def test_the_usual_message_goes_from_the_loop_in_one_statement(contact, conversation, agent, no_thread_send,
                                                                     monkeypatch):
    await db(services.conversation_assign)(conversation=conversation, assignee=agent)
    inbox = await agent_socket(agent)
    visitor = await widget_socket(contact)
    await visitor.send_json_to(_send(conversation.pk, "warm"))  # the pool connects and prepares
    await receive(visitor, "message.ack")
    await receive(inbox, "message.created")  # the warm-up's frame

    statements = []
    real = psycopg.AsyncConnection.execute

    async def counting(self, query, *args, **kwargs):
        statements.append(query)
        return await real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", counting)
    await visitor.send_json_to(_send(conversation.pk, "l-1", "¿Sigue disponible?"))
    ack = await receive(visitor, "message.ack")
    assert ack["data"]["duplicate"] is False and ack["data"]["message"]["content"] == "¿Sigue disponible?"
    assert len(statements) == 1 and no_thread_send == []
    created = await receive(inbox, "message.created")
    assert created["data"]["message"]["client_id"] == "l-1" and "html" not in created["data"]
    stored = await db(Conversation.objects.get)(pk=conversation.pk)
    assert created["data"]["conversation"]["unread"] == stored.unread_agent == 2  # one frame: the row rides along
    assert [f for f in await drain(inbox) if f["type"] == "conversation.updated"] == []
    assert await db(Message.objects.filter(conversation=conversation, client_id="l-1").count)() == 1
    await close(inbox, visitor)


async def test_what_the_loop_does_not_answer_goes_to_the_worker_thread(contact, conversation):
    visitor = await widget_socket(contact)
    await visitor.send_json_to(_send(conversation.pk, "r-1"))
    first = await receive(visitor, "message.ack")
    # A retry: the loop's statement stores nothing; the thread reads the twin.
    await visitor.send_json_to(_send(conversation.pk, "r-1"))
    again = await receive(visitor, "message.ack")
    assert again["data"]["duplicate"] is True and again["data"]["message"]["id"] == first["data"]["message"]["id"]
    # A closed chat: the thread starts a new one.
    await db(Conversation.objects.filter(pk=conversation.pk).update)(status=Conversation.Status.CLOSED)
    await visitor.send_json_to(_send(conversation.pk, "r-2"))
    moved = await receive(visitor, "message.ack")
    assert moved["data"]["message"]["conversation_id"] != conversation.pk
    await close(visitor)


async def test_an_offline_assignee_is_still_emailed(contact, conversation, agent, monkeypatch):
    from conversations import tasks

    queued = []
    monkeypatch.setattr(tasks.message_notify_offline_task, "delay", lambda message_id: queued.append(message_id))
    await db(services.conversation_assign)(conversation=conversation, assignee=agent)  # no socket of theirs
    visitor = await widget_socket(contact)
    await visitor.send_json_to(_send(conversation.pk, "o-1"))
    ack = await receive(visitor, "message.ack")
    for _ in range(100):  # the check runs on a worker thread after the ack
        if queued:
            break
        await asyncio.sleep(0.02)
    assert queued == [ack["data"]["message"]["id"]]
    await close(visitor)


def test_a_contact_without_its_configuration_loaded_takes_the_thread(contact, conversation):
    bare = type(contact).objects.get(pk=contact.pk)  # account and site not loaded
    assert asyncio.run(services.contact_message_send_async(
        contact=bare, conversation_id=conversation.pk, client_id="x", content="hola",
    )) is None
    assert not Message.objects.filter(client_id="x").exists()


async def test_sends_beyond_the_pool_wait_their_turn_and_time_out_like_the_pool():
    """``adb.connection``: more statements than connections wait on the
    gate, never more than the pool's size hold one, and a wait longer than
    the pool's timeout raises the pool's ``PoolTimeout``."""
    from psycopg_pool import PoolTimeout

    from core import adb

    held, most = 0, 0

    async def one():
        nonlocal held, most
        async with adb.connection() as aconnection:
            held += 1
            most = max(most, held)
            await aconnection.execute("SELECT pg_sleep(0.005)")
            held -= 1

    try:
        await asyncio.gather(*(one() for _ in range(adb.POOL_MAX * 5)))
        assert most == adb.POOL_MAX
        found = await adb.pool()
        timeout, found.timeout = found.timeout, 0.05
        try:
            async with contextlib.AsyncExitStack() as stack:
                for _ in range(adb.POOL_MAX):
                    await stack.enter_async_context(adb.connection())
                with pytest.raises(PoolTimeout):
                    async with adb.connection():
                        pass
            async with adb.connection() as aconnection:  # every permit back
                assert (await (await aconnection.execute("SELECT 1")).fetchone()) == (1,)
        finally:
            found.timeout = timeout
    finally:
        await adb.close()
