import pytest

from conversations import services
from conversations.models import AssignmentLog, Conversation, Message
from core.exceptions import NotFound, PermissionDenied, ValidationError


def test_contact_message_send_starts_conversation_once_per_client_id(contact):
    first = services.contact_message_send(contact=contact, client_id="c-1", content="Hola")
    again = services.contact_message_send(contact=contact, client_id="c-1", content="Hola")
    assert first.created and not again.created
    assert again.message.pk == first.message.pk
    assert Conversation.objects.filter(contact=contact).count() == 1
    assert Message.objects.filter(conversation__contact=contact).count() == 1
    conversation = first.message.conversation
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.QUEUED
    assert conversation.unread_agent == 1
    assert conversation.awaiting_reply_since is not None


def test_message_send_rejects_oversize_and_empty(conversation):
    with pytest.raises(ValidationError):
        services.message_send(conversation=conversation, sender_type="contact", content="x" * 10_001)
    with pytest.raises(ValidationError):
        services.message_send(conversation=conversation, sender_type="contact", content="   ")
    assert conversation.messages.count() == 0


def test_contact_cannot_send_notes_or_cards(conversation):
    with pytest.raises(PermissionDenied):
        services.message_send(conversation=conversation, sender_type="contact", content="x", kind="note")
    with pytest.raises(PermissionDenied):
        services.message_send(conversation=conversation, sender_type="contact", kind="card", payload={"title": "x"})


def test_agent_reply_takes_queued_conversation_and_clears_awaiting(agent, conversation):
    services.message_send(conversation=conversation, sender_type="contact", content="hi")
    result = services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="Hello!", client_id="a1")
    conversation.refresh_from_db()
    assert result.created
    assert conversation.assignee_id == agent.pk
    assert conversation.status == Conversation.Status.ASSIGNED
    assert conversation.awaiting_reply_since is None
    assert conversation.first_agent_response_at is not None
    assert AssignmentLog.objects.filter(conversation=conversation, assignee=agent).exists()


def test_agent_cannot_reach_other_tenant_conversation(agent, other_conversation):
    with pytest.raises(NotFound):
        services.agent_message_send(membership=agent, conversation_id=other_conversation.pk, content="x")
    assert other_conversation.messages.count() == 0


def test_private_note_never_published_to_contact(agent, conversation, capture_events):
    with capture_events() as events:
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="secret", private=True)
    created = events.named("message.created")
    assert created, "the note reaches agents"
    assert all(f"contact.{conversation.contact_id}" not in e["groups"] for e in created)


def test_message_created_groups_and_keys(agent, conversation, capture_events):
    services.conversation_assign(conversation=conversation, assignee=agent)
    with capture_events() as events:
        services.message_send(conversation=conversation, sender_type="contact", content="hola", client_id="k")
    created = events.named("message.created")
    agent_frame = next(e for e in created if f"conv.{conversation.pk}" in e["groups"])
    assert agent_frame["groups"] == [f"conv.{conversation.pk}", f"member.{agent.pk}", f"sup.{conversation.account_id}"]
    assert set(agent_frame["data"]) == {"message", "conversation"}  # the bubble is drawn by joined sockets
    contact_frame = next(e for e in created if e["groups"] == [f"contact.{conversation.contact_id}"])
    assert "html" not in contact_frame["data"]
    assert set(contact_frame["data"]["message"]) >= {"id", "conversation_id", "client_id", "sender", "kind", "content", "status", "created_at"}


def test_mark_read_resets_unread(agent, conversation):
    m = services.message_send(conversation=conversation, sender_type="contact", content="1").message
    services.message_send(conversation=conversation, sender_type="contact", content="2")
    services.message_mark_read(conversation=conversation, reader="agent", up_to_id=m.pk)
    conversation.refresh_from_db()
    assert conversation.unread_agent == 1


def test_plain_agent_cannot_reassign(agent, agent2, supervisor, conversation):
    services.conversation_assign(conversation=conversation, assignee=agent)
    with pytest.raises(PermissionDenied):
        services.conversation_assign(conversation=conversation, assignee=agent2, by=agent)
    services.conversation_assign(conversation=conversation, assignee=agent2, by=supervisor)
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent2.pk


def test_close_then_reply_refused(agent, conversation):
    services.conversation_assign(conversation=conversation, assignee=agent)
    services.conversation_close(conversation=conversation, by=agent, outcome="resolved")
    with pytest.raises(ValidationError):
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="late")


def test_visitor_session_identity(site):
    import hashlib
    import hmac

    site.require_identity = True
    site.save()
    good = hmac.new(site.identity_secret.encode(), b"u-42", hashlib.sha256).hexdigest()
    session = services.visitor_session_start(app_id=site.app_id, user_id="u-42", user_hash=good, email="a@b.test")
    assert session["contact"].user_id == "u-42"
    again = services.visitor_session_start(app_id=site.app_id, user_id="u-42", user_hash=good)
    assert again["contact"].pk == session["contact"].pk
    with pytest.raises(PermissionDenied):
        services.visitor_session_start(app_id=site.app_id, user_id="u-42", user_hash="0" * 64)
    assert services.visitor_token_read(again["visitor_token"]).pk == session["contact"].pk
