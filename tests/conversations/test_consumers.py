import pytest
from channels.db import database_sync_to_async

from conversations.models import Message
from tests.conversations.wsutil import agent_socket, close, receive, widget_socket, realtime_env  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


async def test_smoke(contact, conversation, agent):
    visitor = await widget_socket(contact)
    inbox = await agent_socket(agent)
    await inbox.send_json_to({"type": "conversation.join", "data": {"conversation_id": conversation.pk}})
    await receive(inbox, "conversation.joined")
    await visitor.send_json_to({"type": "message.send", "data": {"conversation_id": conversation.pk, "client_id": "c1", "content": "Hola"}})
    ack = await receive(visitor, "message.ack")
    created = await receive(inbox, "message.created")
    assert created["data"]["message"]["id"] == ack["data"]["message"]["id"]
    assert "html" in created["data"]
    print(await database_sync_to_async(lambda: list(Message.objects.values_list("sender_type","kind","content")))())
    assert await database_sync_to_async(Message.objects.count)() == 1
    await close(visitor, inbox)
