"""The statements of one message on the socket path, pinned (the real-time
bench measures their cost: docs/performance.md).

A visitor's message into their open chat is one statement, no transaction:
lock the conversation, insert (``ON CONFLICT DO NOTHING`` on the client_id
index), apply the counters and read the conversation back with what its
events show. Any other send is BEGIN, the locking read, one statement that
inserts and updates the counters, COMMIT. Neither looks up duplicates before
the insert, lists attachments or reads the conversation a second time."""

from __future__ import annotations

import pytest

from conversations import services
from conversations.consumers.agent import _send as agent_socket_send
from conversations.consumers.widget import _send as widget_socket_send
from conversations.models import Message
from conversations.selectors import viewer_for
from core import presence

pytestmark = pytest.mark.django_db

SEND_STATEMENTS = 4  # BEGIN, SELECT … FOR UPDATE, WITH ins AS (INSERT … ON CONFLICT) UPDATE, COMMIT
VISITOR_STATEMENTS = 1  # WITH c AS (SELECT … FOR UPDATE), ins AS (INSERT … ON CONFLICT), upd AS (UPDATE) SELECT


@pytest.fixture
def online_agent(agent, conversation):
    """The assignee with a live socket: no offline e-mail task is queued."""
    services.conversation_assign(conversation=conversation, assignee=agent)
    presence.connect("member", agent.pk, "test-channel")
    yield agent
    presence.disconnect("member", agent.pk, "test-channel")


@pytest.mark.parametrize("in_campaign", [False, True])
def test_visitor_message_statements(contact, conversation, online_agent, django_assert_num_queries, capture_events,
                                    in_campaign):
    if in_campaign:  # its name in the list row, its SLA target in the due time, business hours
        from tests import factories

        campaign = factories.CampaignFactory(account=contact.account, name="Motor", sla_unanswered_minutes=30)
        conversation.campaign = campaign
        conversation.save(update_fields=["campaign"])
        account = contact.account
        account.sla_business_hours_only = True
        account.save(update_fields=["sla_business_hours_only"])
        contact.site.business_hours = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
        contact.site.save(update_fields=["business_hours"])
    socket_contact = services.visitor_token_read(services.visitor_token_make(contact))  # as the socket holds it
    widget_socket_send(socket_contact, conversation_id=conversation.pk, client_id="warm", content="hola")
    with capture_events() as events, django_assert_num_queries(VISITOR_STATEMENTS):
        frame = widget_socket_send(socket_contact, conversation_id=conversation.pk, client_id="v-2", content="¿hay stock?")
    assert frame["type"] == "message.ack" and frame["data"]["duplicate"] is False
    assert len(events.named("message.created")) == 2  # agents, visitor tabs
    # A retry of the same client_id: the insert meets the unique index and
    # stores nothing, so nothing is updated; the stored message and its
    # attachments are read for the ack (two reads). No second row.
    with django_assert_num_queries(VISITOR_STATEMENTS + 2):
        again = widget_socket_send(socket_contact, conversation_id=conversation.pk, client_id="v-2", content="¿hay stock?")
    assert again["data"]["duplicate"] is True
    assert Message.objects.filter(conversation=conversation, client_id="v-2").count() == 1


def test_agent_reply_statements(contact, conversation, online_agent, django_assert_num_queries, capture_events):
    presence.connect("contact", contact.pk, "visitor-channel")  # the visitor sees it live: no e-mail
    try:
        viewer = viewer_for(online_agent)
        agent_socket_send(online_agent, viewer, conversation_id=conversation.pk, client_id="warm", content="hola")
        with capture_events(), django_assert_num_queries(SEND_STATEMENTS):
            frame = agent_socket_send(online_agent, viewer, conversation_id=conversation.pk, client_id="a-2", content="Sí")
        assert frame["data"]["message"]["sender"]["type"] == "agent"
    finally:
        presence.disconnect("contact", contact.pk, "visitor-channel")


def test_agent_cannot_send_to_a_conversation_they_cannot_see(contact, conversation, agent, agent2, django_assert_num_queries):
    from core.exceptions import NotFound

    services.conversation_assign(conversation=conversation, assignee=agent2)
    with pytest.raises(NotFound):
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="hola")
    assert not Message.objects.filter(conversation=conversation, sender_type="agent").exists()


@pytest.mark.parametrize("sender", ["contact", "agent", "bot"])
def test_the_statement_s_values_are_what_save_would_store(agent, conversation, sender):
    """``_send_lock._params`` prepares the usual field values itself (the
    field machinery was a twentieth of a send): each must equal what the
    field's own ``get_db_prep_save`` gives, the two ``auto_now`` times one."""
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from conversations.services import _send_lock
    from conversations.services.messages import _new_message

    kind, payload = ("quick_replies", {"options": [{"label": "Sí", "value": "y"}]}) if sender == "bot" else ("text", {})
    message = _new_message(
        account_id=conversation.account_id, conversation_id=conversation.pk, sender_type=sender,
        membership=agent if sender == "agent" else None, kind=kind, content="¿Hola?", payload=payload,
        client_id="c-1", now=timezone.now() - dt.timedelta(seconds=1),
    )
    sql, _returned = _send_lock._store_statement(_send_lock.counters(sender, kind))
    fast = _send_lock._params(sql, message, preview="p", window=dt.timedelta(seconds=10), conversation=conversation.pk)
    assert message.created_at == message.updated_at == fast[sql.slots.index("now")]
    for slot, value in zip(sql.slots, fast, strict=True):
        if isinstance(slot, str):
            continue
        django = slot.get_db_prep_save(getattr(message, slot.attname), connection)
        if slot.attname in ("created_at", "updated_at"):
            assert value == message.created_at
        elif slot.attname == "payload":
            assert value.obj == django.obj == payload
        else:
            assert value == django and type(value) is type(django), slot.attname


@pytest.mark.parametrize("with_member", [True, False])
def test_a_new_message_is_what_its_constructor_builds(agent, conversation, with_member):
    """``_send_lock.new_instance`` skips ``Model.__init__``: the instance must
    be the one ``Message(...)`` builds — every attribute, the cached sender,
    an unsaved state — and its defaults fresh per instance."""
    from conversations.services._send_lock import new_instance

    member = agent if with_member else None
    values = {"account_id": conversation.account_id, "conversation_id": conversation.pk, "sender_type": "agent",
              "kind": "text", "content": "hola", "client_id": "c-9"}
    built = new_instance(Message, {"sender_membership": member}, **values)
    expected = Message(sender_membership=member, **values)
    assert {k: v for k, v in built.__dict__.items() if k != "_state"} == {
        k: v for k, v in expected.__dict__.items() if k != "_state"
    }
    assert built._state.adding and built._state.db is None and built.pk is None
    assert built.sender_membership is member and built.sender_membership_id == (member.pk if member else None)
    other = new_instance(Message, {"sender_membership": None}, **values)
    assert other.payload == {} and other.payload is not built.payload
