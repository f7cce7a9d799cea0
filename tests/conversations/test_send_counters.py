"""What a message does to its conversation's counters, computed by the
database on the locked row (``_send_lock.counters``), on both write paths:
a visitor's message into their open chat (one statement, no transaction)
and every other send (lock, then write). The conversation the events carry
is the row as stored."""

from __future__ import annotations

import datetime as dt

import pytest

from django.utils import timezone

from conversations import events, services
from conversations.models import Attachment, Conversation, Message
from core.exceptions import NotFound
from tests import factories

pytestmark = pytest.mark.django_db


def _published_conversation(captured) -> dict:
    """The agents' view of the conversation after the send: carried by their
    ``message.created`` (or, when who sees it changed, ``conversation.updated``)."""
    carried = [e for e in captured.named("message.created", "conversation.updated")
               if e["meta"].get("audience") == "agents" and "conversation" in e["data"]]
    return carried[0]["data"]["conversation"]


def _as_stored(conversation: Conversation) -> dict:
    conversation.refresh_from_db()
    return events.conversation_data(conversation)


def _visitor(contact, conversation, client_id, content="hola", **kwargs):
    return services.contact_message_send(
        contact=contact, conversation_id=conversation.pk, client_id=client_id, content=content, **kwargs
    )


def test_visitor_messages_count_and_wait(contact, conversation, agent, capture_events):
    services.conversation_assign(conversation=conversation, assignee=agent)
    conversation.refresh_from_db()
    count = conversation.message_count  # the assignment's system line
    with capture_events() as first:
        sent = _visitor(contact, conversation, "v-1", "¿Sigue disponible?")
    conversation.refresh_from_db()
    created = sent.message.created_at
    assert conversation.message_count == count + 1 and conversation.unread_agent == 1
    assert conversation.first_contact_message_at == created == conversation.last_contact_message_at
    assert conversation.awaiting_reply_since == created == conversation.last_message_at
    assert conversation.last_message_preview == "¿Sigue disponible?"
    assert _published_conversation(first) == _as_stored(conversation)
    # The agents see it; the visitor's tabs get no update for their own message.
    assert first.named("conversation.updated") == []

    with capture_events() as second:
        again = _visitor(contact, conversation, "v-2", "x" * 300)
    conversation.refresh_from_db()
    assert conversation.message_count == count + 2 and conversation.unread_agent == 2
    assert conversation.first_contact_message_at == created  # set once
    assert conversation.awaiting_reply_since == created  # still waiting since the first
    assert conversation.last_contact_message_at == again.message.created_at
    assert conversation.last_message_preview == "x" * 200
    assert _published_conversation(second) == _as_stored(conversation)


def test_agent_reply_and_note(contact, conversation, agent, capture_events):
    services.conversation_assign(conversation=conversation, assignee=agent)
    _visitor(contact, conversation, "v-1")
    Conversation.objects.filter(pk=conversation.pk).update(
        sla_warned_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), sla_breached_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    conversation.refresh_from_db()
    count = conversation.message_count
    with capture_events() as captured:
        reply = services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="Sí, claro")
    conversation.refresh_from_db()
    at = reply.message.created_at
    assert conversation.message_count == count + 1 and conversation.unread_contact == 1
    assert conversation.unread_agent == 1
    assert conversation.first_agent_response_at == at == conversation.last_agent_message_at
    assert conversation.awaiting_reply_since is None
    assert conversation.sla_warned_at is None and conversation.sla_breached_at is None
    assert _published_conversation(captured) == _as_stored(conversation)

    with capture_events() as captured:
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="vip", private=True)
    conversation.refresh_from_db()
    assert conversation.message_count == count + 2 and conversation.unread_contact == 1
    assert conversation.last_message_preview == "Sí, claro"  # a note is not the list's preview
    assert conversation.first_agent_response_at == at
    assert captured.named("conversation.updated") == []


@pytest.mark.parametrize("assigned", [True, False])
def test_a_visitor_message_wakes_a_snoozed_conversation(contact, conversation, agent, capture_events, assigned):
    if assigned:
        services.conversation_assign(conversation=conversation, assignee=agent)
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.SNOOZED, snoozed_until=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    )
    with capture_events() as captured:
        _visitor(contact, conversation, "wake")
    conversation.refresh_from_db()
    assert conversation.status == (Conversation.Status.ASSIGNED if assigned else Conversation.Status.QUEUED)
    assert conversation.snoozed_until is None
    updates = captured.named("conversation.updated")
    # The visitor's tabs see the status change; the agents' lists learn where it was.
    assert [e["meta"]["audience"] for e in updates] == ["agents", "contact"]
    assert updates[0]["meta"]["before"]["status"] == Conversation.Status.SNOOZED
    assert updates[1]["data"]["conversation"]["status"] == conversation.status


def test_visitor_message_with_an_attachment_counts_the_same(contact, conversation, capture_events):
    attachment = Attachment.objects.create(
        account=contact.account, uploaded_by_contact=contact, name="foto.jpg", content_type="image/jpeg", size=10,
        file="attachments/foto.jpg",
    )
    with capture_events() as captured:
        sent = services.contact_message_send(
            contact=contact, conversation_id=conversation.pk, client_id="a-1", attachment_ids=[attachment.pk]
        )
    conversation.refresh_from_db()
    assert conversation.message_count == 1 and conversation.unread_agent == 1
    assert conversation.awaiting_reply_since == sent.message.created_at
    assert conversation.last_message_preview == "foto.jpg"
    assert _published_conversation(captured) == _as_stored(conversation)


def test_the_one_statement_path_refuses_what_is_not_theirs(contact, conversation, other_conversation, account, site):
    stranger = factories.ContactFactory(account=account, site=site)
    for who, target in ((stranger, conversation), (contact, other_conversation)):
        with pytest.raises(NotFound):
            services.contact_message_send(contact=who, conversation_id=target.pk, client_id="x", content="hola")
    assert not Message.objects.filter(client_id="x").exists()
    assert Conversation.objects.get(pk=conversation.pk).message_count == 0


def test_writing_into_a_closed_chat_starts_a_new_one(contact, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.CLOSED)
    sent = _visitor(contact, conversation, "late")
    assert sent.created and sent.message.conversation_id != conversation.pk
    fresh = Conversation.objects.get(pk=sent.message.conversation_id)
    assert fresh.message_count == 1 and fresh.unread_agent == 1 and fresh.contact_id == contact.pk
    # The retry of that send finds the message in the new conversation, not a third one.
    again = _visitor(contact, conversation, "late")
    assert not again.created and again.message.pk == sent.message.pk


# --- The visitor's flood limit, counted on the conversation's row --------------------------


def test_flood_limit_on_both_paths_and_per_window(contact, conversation, agent):
    from core.exceptions import RateLimited

    def send(client_id, **kwargs):
        return services.contact_message_send(contact=contact, client_id=client_id, content="hola", flood_limit=3, **kwargs)

    send("f-1", conversation_id=conversation.pk)  # one statement
    send("f-2")  # no conversation id: the transactional path, same count
    services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="hi")  # agents don't count
    assert send("f-2", conversation_id=conversation.pk).created is False  # a retry is no new message
    send("f-3", conversation_id=conversation.pk)
    for kwargs in ({"conversation_id": conversation.pk}, {}):
        with pytest.raises(RateLimited):
            send("f-4", **kwargs)
    assert not Message.objects.filter(client_id="f-4").exists()
    conversation.refresh_from_db()
    assert conversation.flood_count == 3
    # A send without a limit (messages from other channels) is not held back.
    services.contact_message_send(contact=contact, conversation_id=conversation.pk, client_id="f-5", content="x")
    # The window passes: a new one starts at the next message.
    Conversation.objects.filter(pk=conversation.pk).update(flood_since=timezone.now() - dt.timedelta(seconds=11))
    sent = send("f-6", conversation_id=conversation.pk)
    conversation.refresh_from_db()
    assert conversation.flood_count == 1 and conversation.flood_since == sent.message.created_at
