import pytest
from channels.db import database_sync_to_async
from conversations.models import Message
from tests.conversations.wsutil import widget_socket, agent_socket, close, realtime_env  # noqa
pytestmark = pytest.mark.django_db(transaction=True)

async def test_a(contact):
    v = await widget_socket(contact)
    await close(v)

async def test_b(agent):
    v = await agent_socket(agent)
    await close(v)

async def test_c(contact):
    pass
