"""Random frames at both sockets: the socket never dies, nothing answers with
an internal error, and a frame answered with an error wrote nothing."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Membership
from conversations.models import Attachment, Conversation, Message, PageView
from tests.conversations.wsutil import agent_socket, frames_until, realtime_env, widget_socket  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_TYPES = [
    "message.send", "typing", "read", "resume", "page.view", "ping", "conversation.join",
    "conversation.leave", "presence.set", "identify", "message.ack", "pong", "error", "", "TYPING", "x" * 80,
]
KEYS = [
    "conversation_id", "client_id", "content", "kind", "state", "message_id", "after_id", "url", "title",
    "private", "attachments", "payload", "availability", "context",
]
ERROR_CODES = {"invalid", "unknown_type", "forbidden", "not_found", "rate_limited"}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["@own", "@other", "@own_message", "start", "stop", "text", "note", "away",
                       "https://shop.example.test/p", "a\x00b", "\ud83d\ude00", "\ud800x"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
data_objects = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values, max_size=6)
structured = st.fixed_dictionaries(
    {"type": st.sampled_from(CLIENT_TYPES)}, optional={"data": data_objects | json_values, "extra": json_values}
)
frames = st.one_of(
    structured.map(json.dumps),
    json_values.map(json.dumps),
    st.text(min_size=1, max_size=300),
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _counts(account_ids) -> tuple[int, ...]:
    return tuple(
        model.objects.filter(account_id__in=account_ids).count()
        for model in (Message, Conversation, PageView, Attachment)
    )


def _substitute(text: str, ids: dict[str, int]) -> str:
    for placeholder, value in ids.items():
        text = text.replace(f'"{placeholder}"', str(value))
    return text


async def _exercise(comm, texts, ids, account_ids):
    counts = database_sync_to_async(_counts)
    for text in texts:
        text = _substitute(text, ids)
        before = await counts(account_ids)
        await comm.send_to(text_data=text)
        marker = uuid.uuid4().hex
        await comm.send_json_to({"type": "fuzz.sync", "data": {"client_id": marker}})
        answers = await frames_until_marker(comm, marker)
        errors = [f for f in answers if f["type"] == "error"]
        for error in errors:
            assert error["data"]["code"] in ERROR_CODES, (text, error)
            assert isinstance(error["data"]["message"], str) and error["data"]["message"]
        if errors:
            assert await counts(account_ids) == before, (text, errors)


async def frames_until_marker(comm, marker):
    seen = []
    while True:
        batch = await frames_until(comm, "error", timeout=5)
        last = batch[-1]
        if last["data"].get("client_id") == marker:
            assert last["data"]["code"] == "unknown_type"
            return seen + batch[:-1]
        seen += batch


def _seed_ids(conversation, other_conversation):
    message = Message.objects.create(
        account_id=conversation.account_id, conversation=conversation, sender_type="agent", content="seed"
    )
    return {"@own": conversation.pk, "@other": other_conversation.pk, "@own_message": message.pk}


@FUZZ
@given(texts=st.lists(frames, min_size=1, max_size=3))
async def test_widget_socket_survives_random_frames(texts, contact, conversation, other_conversation, caplog):
    ids = await database_sync_to_async(_seed_ids)(conversation, other_conversation)
    caplog.set_level(logging.ERROR, logger="conversations")
    visitor = await widget_socket(contact)
    await _exercise(visitor, texts, ids, [contact.account_id, other_conversation.account_id])
    await visitor.disconnect()
    assert not [r for r in caplog.records if r.name.startswith("conversations")], caplog.text


@FUZZ
@given(texts=st.lists(frames, min_size=1, max_size=3))
async def test_agent_socket_survives_random_frames(texts, agent, conversation, other_conversation, caplog):
    await database_sync_to_async(
        lambda: Membership.objects.filter(pk=agent.pk).update(availability=Membership.Availability.AWAY)
    )()
    ids = await database_sync_to_async(_seed_ids)(conversation, other_conversation)
    caplog.set_level(logging.ERROR, logger="conversations")
    inbox = await agent_socket(agent)
    await _exercise(inbox, texts, ids, [agent.account_id, other_conversation.account_id])
    await inbox.disconnect()
    assert not [r for r in caplog.records if r.name.startswith("conversations")], caplog.text
