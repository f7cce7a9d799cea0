"""Every realtime event the conversation services publish: its name, the
groups it goes to and the keys of its payload (Zulip's test_events.py
discipline). A new event or a changed shape must change this file."""

from __future__ import annotations

import pytest

from conversations import services

pytestmark = pytest.mark.django_db

MESSAGE_KEYS = {
    "id", "conversation_id", "client_id", "sender", "kind", "content", "payload",
    "attachments", "status", "private", "created_at",
}
CONVERSATION_KEYS = {
    "id", "status", "channel", "site_id", "assignee", "campaign", "contact", "priority", "lead_quality",
    "outcome", "context", "unread", "unread_contact", "message_count", "last_message_preview", "created_at",
    "queued_at", "assigned_at", "first_response_at", "last_message_at", "awaiting_reply_since", "snoozed_until",
    "closed_at",
}
VISITOR_CONVERSATION_KEYS = {"id", "status", "assignee", "context", "unread", "last_message_at", "created_at", "closed_at"}
META_KEYS = {"conversation_id", "account_id", "assignee_id", "campaign_id", "status"}


def _only(events, name, groups):
    matching = [e for e in events.named(name) if e["groups"] == groups]
    assert len(matching) == 1, (name, groups, [(e["event"], e["groups"]) for e in events])
    return matching[0]


def test_message_created(agent, conversation, capture_events):
    """A message that changes its conversation but not who sees it is one
    event for the agents, carrying the conversation's new state (the inbox
    draws the list row from it), to the conversation's groups and its
    audience groups. No bubble HTML: the sockets that show the thread draw
    it (``tests/conversations/test_consumers.py``)."""
    services.conversation_assign(conversation=conversation, assignee=agent)
    with capture_events() as events:
        services.message_send(conversation=conversation, sender_type="contact", content="hola", client_id="k")
    audience = [f"conv.{conversation.pk}", f"member.{agent.pk}", f"sup.{conversation.account_id}"]
    to_agents = _only(events, "message.created", audience)
    assert set(to_agents["data"]) == {"message", "conversation"}
    assert set(to_agents["data"]["message"]) == MESSAGE_KEYS
    assert set(to_agents["data"]["conversation"]) >= CONVERSATION_KEYS
    assert to_agents["data"]["conversation"]["last_message_preview"] == "hola"
    assert set(to_agents["meta"]) >= META_KEYS and to_agents["meta"]["audience"] == "agents"
    to_visitor = _only(events, "message.created", [f"contact.{conversation.contact_id}"])
    assert set(to_visitor["data"]) == {"message"}
    assert to_visitor["meta"]["audience"] == "contact"
    assert to_visitor["others_of"] is None  # not sent from a socket: every tab gets it
    assert events.named("conversation.updated") == []
    # From a socket: the visitor's other tabs only.
    with capture_events() as events:
        services.contact_message_send(contact=conversation.contact, conversation_id=conversation.pk, content="otra",
                                      sender_channel="specific.tab1")
    others_of = _only(events, "message.created", [f"contact.{conversation.contact_id}"])["others_of"]
    assert others_of.channel == "specific.tab1" and others_of.key.endswith(f":presence:contact:{conversation.contact_id}")


def test_a_message_that_changes_who_sees_the_conversation_is_followed_by_its_update(agent, conversation, capture_events):
    """A visitor writing into a snoozed conversation wakes it: the agents get
    ``message.created`` and then ``conversation.updated``, with ``before``,
    to the groups of both states; the visitor sees the status change."""
    import datetime as dt

    from django.utils import timezone

    services.conversation_assign(conversation=conversation, assignee=agent)
    services.conversation_snooze(conversation=conversation, by=agent, until=timezone.now() + dt.timedelta(hours=1))
    with capture_events() as events:
        services.message_send(conversation=conversation, sender_type="contact", content="hola")
    assert set(_only(events, "message.created", [f"conv.{conversation.pk}", f"member.{agent.pk}"])["data"]) == {"message"}
    updated = _only(events, "conversation.updated", [f"sup.{conversation.account_id}", f"member.{agent.pk}"])
    assert updated["meta"]["before"]["status"] == "snoozed" and updated["data"]["conversation"]["status"] == "assigned"
    assert _only(events, "conversation.updated", [f"contact.{conversation.contact_id}"])
    assert [e["event"] for e in events if "audience" in e["meta"] and e["meta"]["audience"] == "agents"] == [
        "message.created", "conversation.updated"
    ]


def test_message_send_updates_the_conversation_for_whoever_sees_a_change(agent, conversation, capture_events):
    """A visitor's own message changes nothing their tabs show of the
    conversation: the agents' ``message.created`` carries it, the visitor
    gets no update. An agent's reply changes the visitor's unread count:
    they get ``conversation.updated``."""
    services.conversation_assign(conversation=conversation, assignee=agent)
    with capture_events() as events:
        services.message_send(conversation=conversation, sender_type="contact", content="hola")
    assert events.named("conversation.updated") == []
    with capture_events() as events:
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="¿Qué tal?")
    updated = events.named("conversation.updated")
    assert [e["groups"] for e in updated] == [[f"contact.{conversation.contact_id}"]]
    assert updated[0]["data"]["conversation"]["unread"] == 1
    created = events.named("message.created")
    assert [e["groups"] for e in created][-1] == [f"conv.{conversation.pk}", f"member.{agent.pk}", f"sup.{conversation.account_id}"]
    assert created[-1]["data"]["conversation"]["unread_contact"] == 1


def test_message_created_private_note_reaches_agents_only(agent, conversation, capture_events):
    with capture_events() as events:
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="psst", private=True)
    notes = events.named("message.created")
    assert [e["groups"] for e in notes] == [[f"conv.{conversation.pk}"]]


def test_message_updated(agent, conversation, capture_events):
    message = services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="hi").message
    with capture_events() as events:
        assert services.message_mark_delivered(account_id=conversation.account_id, message_id=message.pk)
    agents = _only(events, "message.updated", [f"conv.{conversation.pk}", f"member.{agent.pk}"])
    assert set(agents["data"]) == {"message"}
    assert agents["data"]["message"]["status"] == "delivered"
    visitor = _only(events, "message.updated", [f"contact.{conversation.contact_id}"])
    assert set(visitor["data"]["message"]) == MESSAGE_KEYS


def test_message_read(agent, conversation, capture_events):
    conversation = services.conversation_assign(conversation=conversation, assignee=agent)
    message = services.message_send(conversation=conversation, sender_type="contact", content="q").message
    with capture_events() as events:
        services.message_mark_read(conversation=conversation, reader="agent", up_to_id=message.pk)
    read = _only(
        events, "message.read",
        [f"conv.{conversation.pk}", f"member.{agent.pk}", f"contact.{conversation.contact_id}"],
    )
    assert read["data"] == {"conversation_id": conversation.pk, "reader": "agent", "up_to_id": message.pk}
    assert set(read["meta"]) >= META_KEYS


def test_typing(agent, conversation, capture_events):
    conversation = services.conversation_assign(conversation=conversation, assignee=agent)
    with capture_events() as events:
        services.typing_set(conversation=conversation, who_type="agent", who_id=agent.pk, who_name="Ana", state="start")
        services.typing_set(
            conversation=conversation, who_type="agent", who_id=agent.pk, who_name="Ana", state="start", private=True
        )
        services.typing_set(
            conversation=conversation, who_type="contact", who_id=conversation.contact_id, who_name="V", state="stop"
        )
    agent_typing, note_typing, visitor_typing = events.named("typing")
    assert agent_typing["groups"] == [f"conv.{conversation.pk}", f"member.{agent.pk}", f"contact.{conversation.contact_id}"]
    assert agent_typing["data"] == {
        "conversation_id": conversation.pk, "who": {"type": "agent", "id": agent.pk, "name": "Ana"}, "state": "start",
    }
    assert note_typing["groups"] == [f"conv.{conversation.pk}", f"member.{agent.pk}"]
    assert visitor_typing["groups"] == [f"conv.{conversation.pk}", f"member.{agent.pk}"]
    assert set(visitor_typing["meta"]) >= META_KEYS


def test_conversation_created(contact, capture_events):
    with capture_events() as events:
        services.contact_message_send(contact=contact, client_id="first", content="hi")
    created = events.named("conversation.created")
    # Supervisors and the shared queue (a new conversation waits, without a campaign).
    agents = _only(events, "conversation.created", [f"sup.{contact.account_id}", f"queue.{contact.account_id}"])
    assert set(agents["data"]) == {"conversation", "html"}
    assert set(agents["data"]["conversation"]) >= CONVERSATION_KEYS
    assert agents["meta"]["audience"] == "agents" and set(agents["meta"]) >= META_KEYS
    visitor = _only(events, "conversation.created", [f"contact.{contact.pk}"])
    assert set(visitor["data"]) == {"conversation"}
    assert set(visitor["data"]["conversation"]) >= VISITOR_CONVERSATION_KEYS
    assert len(created) == 2


def test_conversation_updated(agent, agent2, supervisor, conversation, capture_events):
    services.conversation_assign(conversation=conversation, assignee=agent)
    with capture_events() as events:
        services.conversation_assign(conversation=conversation, assignee=agent2, by=supervisor)
    agents = _only(
        events, "conversation.updated",
        [f"sup.{conversation.account_id}", f"member.{agent2.pk}", f"member.{agent.pk}"],
    )
    assert set(agents["data"]) == {"conversation", "html"}
    assert set(agents["data"]["conversation"]) >= CONVERSATION_KEYS
    # The previous assignee is addressed on purpose: their socket forwards it.
    assert agents["meta"]["member_ids"] == [agent.pk, agent2.pk]
    assert agents["meta"]["before"] == {"assignee_id": agent.pk, "campaign_id": None, "status": "assigned"}
    visitor = _only(events, "conversation.updated", [f"contact.{conversation.contact_id}"])
    assert set(visitor["data"]["conversation"]) >= VISITOR_CONVERSATION_KEYS


def test_conversation_updated_reaches_those_who_saw_it_before(agent, conversation, capture_events):
    """Taken from the shared queue: the queue's group hears it too (with the
    state it had in ``meta.before``), so every agent's Queue drops it."""
    with capture_events() as events:
        services.conversation_assign(conversation=conversation, assignee=agent)
    account_id = conversation.account_id
    agents = _only(
        events, "conversation.updated", [f"sup.{account_id}", f"member.{agent.pk}", f"queue.{account_id}"]
    )
    assert agents["meta"]["before"] == {"assignee_id": None, "campaign_id": None, "status": "queued"}


def test_presence_contact(contact, capture_events):
    with capture_events() as events:
        services.contact_connection_opened(contact=contact, channel_name="test.chan")
        services.contact_page_view(contact=contact, url="https://shop.example.test/a", title="A")
    online, page = events.named("presence")
    assert online["groups"] == page["groups"] == [f"acct.{contact.account_id}"]
    assert set(online["data"]) == {"contact_id", "online", "page_url", "page_title"}
    assert online["data"]["online"] is True
    assert page["data"]["page_url"] == "https://shop.example.test/a"
    services.contact_connection_closed(contact=contact, channel_name="test.chan")


def test_presence_member(agent, capture_events):
    with capture_events() as events:
        services.member_set_availability(membership=agent, availability="away")
    presence = _only(events, "presence", [f"acct.{agent.account_id}"])
    assert presence["data"] == {"member_id": agent.pk, "availability": "away", "name": agent.user.display_name}


def test_session_revoked(contact, capture_events):
    with capture_events() as events:
        services.visitor_token_revoke(contact=contact)
    revoked = _only(events, "session.revoked", [f"contact.{contact.pk}"])
    assert revoked["data"] == {"contact_id": contact.pk}
    assert revoked["meta"] == {"account_id": contact.account_id, "audience": "contact"}


def test_member_access_changed(owner, agent, capture_events):
    """Internal: the member's agent sockets re-read what they may see (role,
    campaigns, removal); never forwarded to a client."""
    from accounts import services as account_services

    with capture_events() as events:
        account_services.membership_change_role(actor=owner, membership=agent, role="supervisor")
    changed = _only(events, "member.access_changed", [f"member.{agent.pk}"])
    assert changed["data"] == {} and changed["meta"] == {"audience": "internal"}
    with capture_events() as events:
        account_services.membership_set_capacity(actor=owner, membership=agent, capacity=3)
    assert events.named("member.access_changed") == []  # capacity changes nothing one sees


def test_member_avatar_url_without_a_reference_cycle(agent):
    """``events.file_url`` reads a file field's URL from the stored name,
    leaving the instance free of a ``FieldFile`` that points back at it."""
    from accounts.models import User
    from conversations.events import file_url

    user = User.objects.get(pk=agent.user_id)
    assert file_url(user, "avatar") is None and "avatar" in user.__dict__ and user.__dict__["avatar"] == ""
    user.avatar.name = "avatars/ana.png"
    expected = user.avatar.url  # through the descriptor, for comparison
    fresh = User.objects.get(pk=agent.user_id)
    fresh.__dict__["avatar"] = "avatars/ana.png"
    assert file_url(fresh, "avatar") == expected
    assert isinstance(fresh.__dict__["avatar"], str)  # not wrapped: no cycle
    deferred = User.objects.only("id").get(pk=agent.user_id)
    assert file_url(deferred, "avatar") is None  # loaded on demand, as the descriptor would



@pytest.mark.django_db(transaction=True)
def test_a_new_conversations_first_message_goes_out_before_routing_assigns_it(account, site, agent, monkeypatch):
    """The visitor's first message starts the conversation (queued) and
    routing assigns it right after the commit. The message's event carries
    the conversation as queued, so it must leave before the assignment's
    ``conversation.updated``: an agent's list applies what comes last, and a
    stale "queued" after it kept the row in their queue view. Real commits
    (``capture_events`` runs the on-commit callbacks of nested transactions
    at the end, which would hide the order)."""
    from accounts.models import Membership
    from core import presence, realtime
    from tests import factories

    sent = []
    monkeypatch.setattr(realtime, "send_now", lambda *, groups, event, data, meta=None, others_of=None:
                        sent.append((event, data, meta or {})))
    Membership.objects.filter(pk=agent.pk).update(availability=Membership.Availability.ONLINE)
    presence.connect("member", agent.pk, "test-channel-first-message")
    try:
        contact = factories.ContactFactory(account=account, site=site)
        services.contact_message_send(contact=contact, content="hola", client_id="first")
    finally:
        presence.disconnect("member", agent.pk, "test-channel-first-message")
    states = [(event, data["conversation"]["status"]) for event, data, meta in sent
              if meta.get("audience") == "agents" and "conversation" in data]
    assert states[0] == ("conversation.created", "queued")
    assert ("message.created", "queued") in states
    assert states[-1] == ("conversation.updated", "assigned"), states
