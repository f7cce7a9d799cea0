"""The widget and inbox sockets against the real ASGI app, PostgreSQL and the
Redis channel layer."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async

from accounts.models import Membership
from conversations import services
from conversations.models import Contact, Conversation, Message
from tests import factories
from tests.conversations.wsutil import (  # noqa: F401
    SITE_ORIGIN,
    agent_socket,
    close,
    connect,
    drain,
    expect_close,
    frames_until,
    jwt_for,
    realtime_env,
    receive,
    session_cookie,
    set_limits,
    widget_socket,
)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


@pytest.fixture
def away(agent, agent2, supervisor):
    """Agents not available for auto-assignment, so routing leaves the queue
    alone and each test decides who is assigned."""
    Membership.objects.filter(pk__in=[agent.pk, agent2.pk, supervisor.pk]).update(
        availability=Membership.Availability.AWAY
    )
    for member in (agent, agent2, supervisor):
        member.refresh_from_db()


def _count(model=Message, **filters) -> int:
    return model.objects.filter(**filters).count()


async def _join(comm, conversation_id):
    await comm.send_json_to({"type": "conversation.join", "data": {"conversation_id": conversation_id}})
    frame = await receive(comm, "conversation.joined")
    assert frame["data"]["conversation_id"] == conversation_id


def _send(conversation_id, client_id, content, **extra):
    data = {"client_id": client_id, "content": content, **extra}
    if conversation_id is not None:
        data["conversation_id"] = conversation_id
    return {"type": "message.send", "data": data}


# --- messages ------------------------------------------------------------------------


def _metric(name, **labels):
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0


async def test_visitor_send_is_acked_after_commit_and_reaches_joined_agent(away, contact, conversation, agent):
    open_widgets = _metric("charla_websocket_connections", kind="widget")
    deliveries = _metric("charla_deliveries_total", kind="agent")
    latencies = _metric("charla_delivery_latency_seconds_count")
    visitor = await widget_socket(contact)
    inbox = await agent_socket(agent)
    assert _metric("charla_websocket_connections", kind="widget") == open_widgets + 1
    await _join(inbox, conversation.pk)

    await visitor.send_json_to(_send(conversation.pk, "c-1", "Hola"))
    ack = await receive(visitor, "message.ack")
    message = ack["data"]["message"]
    assert ack["data"]["client_id"] == "c-1"
    assert message["content"] == "Hola" and message["sender"]["type"] == "contact"
    # The ack comes after the commit: the row is there for anyone to read.
    assert await db(_count)(pk=message["id"]) == 1

    created = await receive(inbox, "message.created")
    assert created["data"]["message"]["id"] == message["id"]
    assert "Hola" in created["data"]["html"]
    assert _metric("charla_deliveries_total", kind="agent") > deliveries
    assert _metric("charla_delivery_latency_seconds_count") > latencies
    await close(visitor, inbox)
    assert _metric("charla_websocket_connections", kind="widget") == open_widgets


async def test_only_a_socket_that_shows_the_thread_gets_the_bubble(away, contact, conversation, agent):
    """The sender renders no bubble: the agent's socket that joined the
    conversation draws it from the frame's message — the page's markup, in
    its agent's language — and their other tab (list only) gets none."""
    from django.utils import translation

    from conversations.html import message_bubble

    await db(services.conversation_assign)(conversation=conversation, assignee=agent)
    agent.user.language = "es"
    await db(agent.user.save)(update_fields=["language"])
    thread, listing = await agent_socket(agent), await agent_socket(agent)
    await _join(thread, conversation.pk)
    await drain(listing)

    visitor = await widget_socket(contact)
    await visitor.send_json_to(_send(conversation.pk, "b-1", "Mira https://example.com <b>"))
    await receive(visitor, "message.ack")
    shown, listed = await receive(thread, "message.created"), await receive(listing, "message.created")
    assert "html" not in listed["data"] and listed["data"]["conversation"]["last_message_preview"]

    stored = await db(lambda: Message.objects.select_related("conversation__contact").get(client_id="b-1"))()
    with translation.override("es"):
        assert shown["data"]["html"] == await db(message_bubble)(stored)
    assert "&lt;b&gt;" in shown["data"]["html"] and 'href="https://example.com"' in shown["data"]["html"]

    note = await db(services.agent_message_send)(membership=agent, conversation_id=conversation.pk, content="ojo",
                                                   private=True)
    noted = await receive(thread, "message.created")
    assert noted["data"]["message"]["id"] == note.message.pk and "Nota privada" in noted["data"]["html"]
    await close(visitor, thread, listing)


async def test_the_sending_tab_gets_its_ack_and_the_visitors_other_tabs_the_message(contact, conversation):
    sender, other = await widget_socket(contact), await widget_socket(contact)
    await sender.send_json_to(_send(conversation.pk, "tab-1", "desde la pestaña uno"))
    ack = await receive(sender, "message.ack")
    created = await receive(other, "message.created")
    assert created["data"]["message"]["id"] == ack["data"]["message"]["id"]
    # The ack carried the message: no echo of it to the tab that sent it.
    assert [f for f in await drain(sender) if f["type"] == "message.created"] == []
    await close(sender, other)


async def test_a_lone_tab_s_message_is_not_published_to_the_visitor_s_tabs(contact, conversation, agent):
    """With one tab, the visitor's copy of their own message is not published
    at all (``core.channel_layer.OthersOf``): a listener on their group that
    is not one of their sockets hears nothing, while the agents get it. With
    a second tab it is published again."""
    from channels.layers import get_channel_layer

    from core import realtime

    await db(services.conversation_assign)(conversation=conversation, assignee=agent)
    layer = get_channel_layer()
    listener = await layer.new_channel()
    await layer.group_add(realtime.group_contact(contact.pk), listener)
    inbox, sender = await agent_socket(agent), await widget_socket(contact)
    await sender.send_json_to(_send(conversation.pk, "lone-1", "sola"))
    await receive(sender, "message.ack")
    assert (await receive(inbox, "message.created"))["data"]["message"]["client_id"] == "lone-1"
    await asyncio.sleep(0.5)
    assert layer.receive_nowait(listener) is None

    other = await widget_socket(contact)
    await sender.send_json_to(_send(conversation.pk, "lone-2", "ya no"))
    assert (await receive(other, "message.created"))["data"]["message"]["client_id"] == "lone-2"
    heard = await asyncio.wait_for(layer.receive(listener), 5)
    assert heard["frame"]["data"]["message"]["client_id"] == "lone-2"
    await layer.group_discard(realtime.group_contact(contact.pk), listener)
    await close(inbox, sender, other)


async def test_visitor_send_is_idempotent_and_can_start_a_conversation(contact, conversation):
    visitor = await widget_socket(contact)
    await visitor.send_json_to(_send(conversation.pk, "same", "once"))
    first = await receive(visitor, "message.ack")
    await visitor.send_json_to(_send(conversation.pk, "same", "once"))
    second = await receive(visitor, "message.ack")
    assert second["data"]["message"]["id"] == first["data"]["message"]["id"]
    assert second["data"]["duplicate"] is True
    assert await db(_count)(conversation=conversation, sender_type="contact") == 1

    # No conversation_id: continue the open one (or start one).
    await db(services.conversation_close)(conversation=conversation)
    await visitor.send_json_to(_send(None, "first", "Hi there"))
    ack = await receive(visitor, "message.ack")
    conversation_id = ack["data"]["message"]["conversation_id"]
    assert conversation_id != conversation.pk
    assert await db(_count)(Conversation, pk=conversation_id, contact=contact) == 1
    await close(visitor)


async def test_agent_reply_reaches_visitor_and_ticks_delivered(away, contact, conversation, agent):
    visitor = await widget_socket(contact)
    inbox = await agent_socket(agent)
    await _join(inbox, conversation.pk)

    await inbox.send_json_to(_send(conversation.pk, "a-1", "How can I help?"))
    ack = await receive(inbox, "message.ack")
    message_id = ack["data"]["message"]["id"]

    created = await receive(visitor, "message.created")
    assert created["data"]["message"]["id"] == message_id
    assert created["data"]["message"]["sender"]["type"] == "agent"
    assert "html" not in created["data"]
    # The visitor's socket got it: sent → delivered, and both sides hear it.
    updated = await receive(visitor, "message.updated")
    assert updated["data"]["message"]["status"] == "delivered"
    agent_update = await receive(inbox, "message.updated")
    assert agent_update["data"]["message"]["id"] == message_id
    assert await db(lambda: Message.objects.get(pk=message_id).status)() == "delivered"
    await close(visitor, inbox)


async def test_private_note_never_reaches_visitor(away, contact, conversation, agent):
    visitor = await widget_socket(contact)
    inbox = await agent_socket(agent)
    await _join(inbox, conversation.pk)

    await inbox.send_json_to({"type": "typing", "data": {"conversation_id": conversation.pk, "state": "start", "private": True}})
    await inbox.send_json_to(_send(conversation.pk, "note-1", "internal only", private=True))
    ack = await receive(inbox, "message.ack")
    assert ack["data"]["message"]["private"] is True
    note = await receive(inbox, "message.created")
    assert note["data"]["message"]["kind"] == "note"

    seen = await drain(visitor)
    assert [f for f in seen if f["type"] in ("message.created", "typing")] == []
    assert "internal only" not in json.dumps(seen)
    await close(visitor, inbox)


# --- typing and reads ------------------------------------------------------------------


async def test_typing_both_ways_and_soft_lock(away, contact, conversation, agent, agent2):
    visitor = await widget_socket(contact)
    ana = await agent_socket(agent)
    bruno = await agent_socket(agent2)
    await _join(ana, conversation.pk)
    await _join(bruno, conversation.pk)

    await visitor.send_json_to({"type": "typing", "data": {"conversation_id": conversation.pk, "state": "start"}})
    for inbox in (ana, bruno):
        frame = await receive(inbox, "typing")
        assert frame["data"]["who"] == {"type": "contact", "id": contact.pk, "name": contact.display_name}
        assert frame["data"]["state"] == "start"

    await ana.send_json_to({"type": "typing", "data": {"conversation_id": conversation.pk, "state": "start"}})
    to_visitor = await receive(visitor, "typing")
    assert to_visitor["data"]["who"]["type"] == "agent" and to_visitor["data"]["who"]["id"] == agent.pk
    # Soft lock: the other agent sees who is typing.
    lock = await receive(bruno, "typing")
    assert lock["data"]["who"]["id"] == agent.pk
    # One's own typing is not echoed back.
    assert [f for f in await drain(ana) if f["type"] == "typing"] == []
    await close(visitor, ana, bruno)


async def test_read_receipts_both_ways(away, contact, conversation, agent):
    def seed():
        services.conversation_assign(conversation=conversation, assignee=agent)
        first = services.message_send(conversation=conversation, sender_type="contact", content="q").message
        reply = services.message_send(
            conversation=conversation, sender_type="agent", membership=agent, content="a"
        ).message
        return first.pk, reply.pk

    contact_msg, agent_msg = await db(seed)()
    visitor = await widget_socket(contact)
    inbox = await agent_socket(agent)

    await inbox.send_json_to({"type": "read", "data": {"conversation_id": conversation.pk, "message_id": contact_msg}})
    receipt = await receive(visitor, "message.read")
    assert receipt["data"] == {"conversation_id": conversation.pk, "reader": "agent", "up_to_id": contact_msg}

    await visitor.send_json_to({"type": "read", "data": {"conversation_id": conversation.pk, "message_id": agent_msg}})
    receipt = await receive(inbox, "message.read")
    if receipt["data"]["reader"] == "agent":  # the echo of the agent's own read
        receipt = await receive(inbox, "message.read")
    assert receipt["data"]["reader"] == "contact" and receipt["data"]["up_to_id"] == agent_msg
    assert await db(lambda: Message.objects.get(pk=agent_msg).status)() == "read"
    await close(visitor, inbox)


# --- resume ------------------------------------------------------------------------------


async def test_resume_replays_exactly_what_was_missed_in_order(away, contact, conversation, agent):
    def seed():
        services.conversation_assign(conversation=conversation, assignee=agent)
        seen = services.message_send(conversation=conversation, sender_type="contact", content="seen").message
        missed = [
            services.message_send(conversation=conversation, sender_type="contact", content="m1").message,
            services.message_send(conversation=conversation, sender_type="agent", membership=agent, content="m2").message,
        ]
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="secret", private=True)
        missed.append(
            services.message_send(conversation=conversation, sender_type="agent", membership=agent, content="m3").message
        )
        return seen.pk, [m.pk for m in missed]

    seen_id, missed_ids = await db(seed)()
    visitor = await widget_socket(contact)
    await visitor.send_json_to({"type": "resume", "data": {"conversation_id": conversation.pk, "after_id": seen_id}})
    frames = await frames_until(visitor, "resume.done")
    replayed = [f["data"]["message"] for f in frames if f["type"] == "message.created"]
    assert [m["id"] for m in replayed] == missed_ids
    assert [m["content"] for m in replayed] == ["m1", "m2", "m3"]
    assert frames[-1]["data"] == {"conversation_id": conversation.pk, "last_id": missed_ids[-1], "more": False}

    inbox = await agent_socket(agent)
    await inbox.send_json_to({"type": "resume", "data": {"conversation_id": conversation.pk, "after_id": seen_id}})
    frames = await frames_until(inbox, "resume.done")
    contents = [f["data"]["message"]["content"] for f in frames if f["type"] == "message.created"]
    assert contents == ["m1", "m2", "secret", "m3"]  # agents get their notes
    assert all("html" in f["data"] for f in frames if f["type"] == "message.created")
    await close(visitor, inbox)


async def test_resume_pages_when_more_than_the_cap(settings, contact, conversation):
    set_limits(settings, RESUME_MAX=2)

    def seed():
        return [
            services.message_send(conversation=conversation, sender_type="contact", content=str(i)).message.pk
            for i in range(5)
        ]

    ids = await db(seed)()
    visitor = await widget_socket(contact)
    got, after = [], 0
    while True:
        await visitor.send_json_to({"type": "resume", "data": {"conversation_id": conversation.pk, "after_id": after}})
        frames = await frames_until(visitor, "resume.done")
        got += [f["data"]["message"]["id"] for f in frames if f["type"] == "message.created"]
        done = frames[-1]["data"]
        after = done["last_id"]
        if not done["more"]:
            break
    assert got == ids
    await close(visitor)


# --- authentication and origins ------------------------------------------------------------


async def test_widget_origin_rules(account, contact):
    comm = await connect(f"/ws/widget/?token={services.visitor_token_make(contact)}", origin="https://evil.example")
    closed = await expect_close(comm, 4403)
    assert closed.get("reason")
    await comm.disconnect()
    # The site's own domain, and Charla's origin (the chat iframe), are fine.
    for origin in (SITE_ORIGIN, "http://localhost"):
        await close(await widget_socket(contact, origin=origin))
    # Another site of the same account has its own domains.
    site = await db(factories.SiteFactory)(account=account, allowed_domains=["only.example.test"])
    visitor_contact = await db(factories.ContactFactory)(account=account, site=site)
    comm = await connect(f"/ws/widget/?token={services.visitor_token_make(visitor_contact)}", origin=SITE_ORIGIN)
    await expect_close(comm, 4403)
    await comm.disconnect()


async def test_widget_bad_missing_or_revoked_token_closes_4401(contact):
    for path in ("/ws/widget/?token=forged", "/ws/widget/"):
        comm = await connect(path)
        await expect_close(comm, 4401)
        await comm.disconnect()
    token = services.visitor_token_make(contact)
    await db(services.visitor_token_revoke)(contact=contact)
    comm = await connect(f"/ws/widget/?token={token}")
    await expect_close(comm, 4401)
    await comm.disconnect()


async def test_shutdown_closes_open_visitor_sockets(contact):
    visitor = await widget_socket(contact)
    await db(services.visitor_token_revoke)(contact=contact)
    frame = await receive(visitor, "session.revoked")
    assert frame["data"] == {"contact_id": contact.pk}
    await expect_close(visitor, 4401)
    await visitor.disconnect()


async def test_agent_socket_by_session_cookie_or_jwt_without_origin(agent):
    await close(await agent_socket(agent, via="session"))
    await close(await agent_socket(agent, origin=None))  # an API client, not a browser


async def test_agent_socket_refusals(agent, other_agent):
    # Foreign browser origin, even with a valid token.
    token = await database_sync_to_async(jwt_for)(agent)
    comm = await connect(f"/ws/agent/?token={token}", origin="https://evil.example")
    await expect_close(comm, 4403)
    await comm.disconnect()
    # A cookie without Origin is not a browser we trust.
    comm = await connect("/ws/agent/", origin=None)
    await expect_close(comm, 4403)
    await comm.disconnect()
    # Nobody logged in; a broken token; an account the user is not in.
    for path in ("/ws/agent/", "/ws/agent/?token=not-a-jwt", f"/ws/agent/?token={token}&account=globex"):
        comm = await connect(path)
        await expect_close(comm, 4401)
        await comm.disconnect()
    # A forged session key, a garbled Cookie header, a session logged out.
    cookie = await database_sync_to_async(session_cookie)(agent)
    for bad in ("sessionid=forged", "sessionid", ";;=;=", ""):
        comm = await connect("/ws/agent/", cookie=bad or None)
        await expect_close(comm, 4401)
        await comm.disconnect()
    from importlib import import_module

    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore(cookie.split("=", 1)[1])
    await database_sync_to_async(store.delete)()
    comm = await connect("/ws/agent/", cookie=cookie)
    await expect_close(comm, 4401)
    await comm.disconnect()


# --- isolation -------------------------------------------------------------------------------


async def test_other_tenant_ids_are_not_found_and_write_nothing(contact, agent, other_conversation):
    inbox = await agent_socket(agent)
    visitor = await widget_socket(contact)
    frames = [
        _send(other_conversation.pk, "x1", "intrude"),
        {"type": "conversation.join", "data": {"conversation_id": other_conversation.pk}},
        {"type": "typing", "data": {"conversation_id": other_conversation.pk, "state": "start"}},
        {"type": "read", "data": {"conversation_id": other_conversation.pk, "message_id": 1}},
        {"type": "resume", "data": {"conversation_id": other_conversation.pk, "after_id": 0}},
    ]
    for comm in (inbox, visitor):
        for frame in frames:
            if comm is visitor and frame["type"] == "conversation.join":
                continue
            await comm.send_json_to(frame)
            error = await receive(comm, "error")
            assert error["data"]["code"] == "not_found", (frame, error)
    assert await db(_count)(conversation=other_conversation) == 0
    assert await db(_count)(Conversation, contact=contact) == 0
    await close(inbox, visitor)


async def test_plain_agent_does_not_get_events_of_another_agents_conversation(
    away, contact, conversation, agent, agent2, supervisor
):
    await db(services.conversation_assign)(conversation=conversation, assignee=agent2)
    ana = await agent_socket(agent)
    boss = await agent_socket(supervisor)
    await ana.send_json_to({"type": "conversation.join", "data": {"conversation_id": conversation.pk}})
    assert (await receive(ana, "error"))["data"]["code"] == "not_found"
    await _join(boss, conversation.pk)

    await db(services.message_send)(conversation=conversation, sender_type="contact", content="for bruno")
    created = await receive(boss, "message.created")
    assert created["data"]["message"]["content"] == "for bruno"
    assert created["data"]["conversation"]["assignee"]["id"] == agent2.pk  # the list row's update rides along
    assert [f for f in await drain(ana) if f["type"].startswith(("message.", "conversation."))] == []
    await close(ana, boss)


async def test_previous_assignee_hears_the_reassignment(away, contact, conversation, agent, agent2, supervisor):
    await db(services.conversation_assign)(conversation=conversation, assignee=agent)
    ana = await agent_socket(agent)
    await _join(ana, conversation.pk)
    await db(services.conversation_assign)(conversation=conversation, assignee=agent2, by=supervisor)
    frame = await receive(ana, "conversation.updated")
    assert frame["data"]["conversation"]["assignee"]["id"] == agent2.pk
    # From then on the conversation's messages are Bruno's business.
    await db(services.message_send)(conversation=conversation, sender_type="contact", content="later")
    assert [f for f in await drain(ana) if f["type"] == "message.created"] == []
    await close(ana)


async def test_a_conversation_taken_from_the_queue_leaves_every_agents_queue(away, contact, conversation, agent, agent2):
    """Updates go to the groups of those who see a conversation (not to the
    whole account); when it leaves someone's sight, they still hear it once
    so their Queue drops it — and then hear nothing more of it."""
    ana, bruno = await agent_socket(agent), await agent_socket(agent2)
    await db(services.message_send)(conversation=conversation, sender_type="contact", content="¿alguien?")
    for socket in (ana, bruno):  # the shared queue: both see it (the message carries the conversation's state)
        assert (await receive(socket, "message.created"))["data"]["conversation"]["assignee"] is None
    await db(services.conversation_assign)(conversation=conversation, assignee=agent)
    taken = await receive(bruno, "conversation.updated")
    assert taken["data"]["conversation"]["assignee"]["id"] == agent.pk
    assert (await receive(ana, "conversation.updated"))["data"]["conversation"]["status"] == "assigned"
    await drain(bruno)
    await db(services.message_send)(conversation=conversation, sender_type="contact", content="gracias")
    await receive(ana, "message.created")
    assert [f for f in await drain(bruno) if f["type"].startswith(("message.", "conversation."))] == []
    await close(ana, bruno)


async def test_a_role_change_applies_to_open_sockets(away, owner, contact, conversation, agent, agent2):
    """Promoted to supervisor, an agent's open socket hears conversations
    assigned to others at once; removed from the team, it is closed."""
    from accounts import services as account_services

    await db(services.conversation_assign)(conversation=conversation, assignee=agent2)
    ana = await agent_socket(agent)
    await db(account_services.membership_change_role)(actor=owner, membership=agent, role=Membership.Role.SUPERVISOR)
    await drain(ana)  # the refresh is handled before the next event
    await db(services.conversation_update_fields)(conversation=conversation, priority=2)
    frame = await receive(ana, "conversation.updated")
    assert frame["data"]["conversation"]["assignee"]["id"] == agent2.pk

    await db(account_services.membership_remove)(actor=owner, membership=agent)
    closed = await expect_close(ana, 4401)
    assert closed["type"] == "websocket.close"
    await close(ana)


async def test_leaving_a_campaign_leaves_its_open_conversations(away, owner, contact, conversation, agent, agent2):
    from campaigns import services as campaign_services

    campaign = await db(campaign_services.campaign_create)(account=owner.account, name="Ventas", actor=owner)
    await db(campaign_services.campaign_set_agents)(campaign=campaign, membership_ids=[agent.pk], actor=owner)
    await db(Conversation.objects.filter(pk=conversation.pk).update)(campaign=campaign)
    await db(services.conversation_assign)(conversation=conversation, assignee=agent2)
    ana = await agent_socket(agent)
    await _join(ana, conversation.pk)  # a campaign's conversation: Ana may open it
    await db(campaign_services.campaign_set_agents)(campaign=campaign, membership_ids=[], actor=owner)
    left = await receive(ana, "conversation.left")
    assert left["data"]["conversation_id"] == conversation.pk
    await db(services.message_send)(conversation=conversation, sender_type="contact", content="¿sigues ahí?")
    assert [f for f in await drain(ana) if f["type"].startswith(("message.", "conversation."))] == []
    await close(ana)


# --- bad input and limits ------------------------------------------------------------------


async def test_error_texts_speak_the_language_of_the_person_on_the_socket(contact, conversation, agent):
    contact.locale = "es"
    await db(contact.save)(update_fields=["locale"])
    visitor = await widget_socket(contact)
    await visitor.send_json_to(_send(conversation.pk, "vacío", "   "))
    assert (await receive(visitor, "error"))["data"]["message"] == "Un mensaje no puede estar vacío."
    await visitor.send_json_to({"type": "nope"})
    assert (await receive(visitor, "error"))["data"]["message"] == "Tipo de mensaje desconocido."
    agent.user.language = "es"
    await db(agent.user.save)(update_fields=["language"])
    inbox = await agent_socket(agent)
    await inbox.send_json_to({"type": "nope"})
    assert (await receive(inbox, "error"))["data"]["message"] == "Tipo de mensaje desconocido."
    await close(visitor, inbox)


async def test_bad_frames_get_errors_and_the_socket_stays_open(contact, conversation):
    visitor = await widget_socket(contact)
    cases = [
        ("not json", "invalid"),
        ("[1, 2]", "invalid"),
        ('{"type": 5}', "invalid"),
        ('{"type": "message.send", "data": []}', "invalid"),
        ('{"type": "nope"}', "unknown_type"),
        ('{"type": "message.send", "data": {"content": "no client id"}}', "invalid"),
        ('{"type": "typing", "data": {"conversation_id": true, "state": "start"}}', "invalid"),
        ('{"type": "typing", "data": {"conversation_id": 1, "state": "maybe"}}', "invalid"),
        ('{"type": "read", "data": {"conversation_id": 1, "message_id": 99999999999999999999999}}', "invalid"),
        ('{"type": "page.view", "data": {"url": "javascript:alert(1)"}}', "invalid"),
        ('{"type": "message.send", "data": {"client_id": "n", "content": "a\\u0000b"}}', "invalid"),
        ('{"type": "message.send", "data": {"client_id": "n", "content": "x", "payload": {"v": NaN}}}', "invalid"),
        (json.dumps(_send(conversation.pk, "big", "x" * 70_000)), "invalid"),
    ]
    for text, code in cases:
        await visitor.send_to(text_data=text)
        error = await receive(visitor, "error")
        assert error["data"]["code"] == code, (text[:80], error)
    await visitor.send_to(bytes_data=b"\x00\x01")
    assert (await receive(visitor, "error"))["data"]["code"] == "invalid"
    # The service's own checks come back with the frame's client_id.
    await visitor.send_json_to(_send(conversation.pk, "empty-1", "   "))
    error = await receive(visitor, "error")
    assert error["data"] == {**error["data"], "code": "invalid", "reason": "empty", "client_id": "empty-1"}
    # A closed conversation: the service's message comes through.
    await db(services.conversation_close)(conversation=conversation)
    await visitor.send_json_to(_send(conversation.pk, "late", "hello?"))
    ack = await receive(visitor, "message.ack")  # writing into a closed chat starts a new one
    assert ack["data"]["message"]["conversation_id"] != conversation.pk
    assert await db(_count)(sender_type="contact") == 1
    await close(visitor)


async def test_connection_flood_is_rate_limited_and_socket_recovers(settings, contact, conversation):
    set_limits(settings, RATE_LIMIT_PER_CONNECTION=3, RATE_LIMIT_WINDOW_SECONDS=2)
    visitor = await widget_socket(contact)  # its ping is frame 1
    await asyncio.sleep(2.05)  # a fresh window
    for i in range(5):
        await visitor.send_json_to({"type": "ping", "data": {"client_id": f"f{i}"}})
    answers = [await receive_any(visitor, ("pong", "error")) for _ in range(5)]
    assert [a["type"] for a in answers] == ["pong"] * 3 + ["error"] * 2
    assert {a["data"]["code"] for a in answers[3:]} == {"rate_limited"}
    assert answers[3]["data"]["client_id"] == "f3"
    await asyncio.sleep(2.05)
    await visitor.send_json_to(_send(conversation.pk, "after", "still here"))
    assert (await receive(visitor, "message.ack"))["data"]["client_id"] == "after"
    assert await db(_count)(conversation=conversation, sender_type="contact") == 1
    await close(visitor)


async def test_contact_flood_is_limited_across_tabs(settings, monkeypatch, contact, conversation):
    set_limits(settings, RATE_LIMIT_PER_CONTACT=2, RATE_LIMIT_WINDOW_SECONDS=10)
    # The per-contact count lives in fixed windows: keep the test inside one.
    monkeypatch.setattr("core.ratelimit.time", SimpleNamespace(time=lambda: 1_800_000_000.0))
    tab1 = await widget_socket(contact)
    tab2 = await widget_socket(contact)
    await tab1.send_json_to(_send(conversation.pk, "t1", "one"))
    await receive(tab1, "message.ack")
    await tab2.send_json_to(_send(conversation.pk, "t2", "two"))
    await receive(tab2, "message.ack")
    await tab2.send_json_to(_send(conversation.pk, "t3", "three"))
    error = await receive(tab2, "error")
    assert error["data"]["code"] == "rate_limited" and error["data"]["client_id"] == "t3"
    assert await db(_count)(conversation=conversation) == 2
    await tab2.send_json_to({"type": "ping"})
    await receive(tab2, "pong")
    await close(tab1, tab2)


async def receive_any(comm, kinds, timeout=3):
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] in kinds:
            return frame


# --- presence --------------------------------------------------------------------------------


async def test_contact_online_while_any_tab_is_open(settings, away, contact, supervisor):
    set_limits(settings, PRESENCE_GRACE_SECONDS=1.5)
    boss = await agent_socket(supervisor)
    is_online = db(lambda: Contact.objects.get(pk=contact.pk).is_online)

    tab1 = await widget_socket(contact)
    online = await receive(boss, "presence")
    assert online["data"]["contact_id"] == contact.pk and online["data"]["online"] is True
    tab2 = await widget_socket(contact)
    await tab1.disconnect()
    await asyncio.sleep(0.5)
    assert await is_online() is True
    await tab2.disconnect()
    assert await is_online() is True  # the reload grace
    offline = await receive(boss, "presence", timeout=6)
    assert offline["data"] == {**offline["data"], "contact_id": contact.pk, "online": False}
    assert await is_online() is False
    await close(boss)


async def test_presence_set_broadcasts_availability(agent, supervisor):
    ana = await agent_socket(agent)
    boss = await agent_socket(supervisor)
    await ana.send_json_to({"type": "presence.set", "data": {"availability": "away"}})
    frame = await receive(boss, "presence")
    while frame["data"].get("member_id") != agent.pk:
        frame = await receive(boss, "presence")
    assert frame["data"]["availability"] == "away"
    await close(ana, boss)


async def test_a_busy_socket_takes_queued_events_in_order(agent, monkeypatch):
    """Events queued behind the one a socket handles are handled in the same
    turn (``RealtimeConsumer.dispatch``), in order, each once."""
    from channels.layers import get_channel_layer

    from conversations.consumers import base
    from core import realtime
    from core.channel_layer import Outgoing

    inbox = await agent_socket(agent)
    await drain(inbox)
    layer = get_channel_layer()
    taken = 0
    real = layer.receive_nowait

    def counting(channel):
        nonlocal taken
        message = real(channel)
        taken += message is not None
        return message

    monkeypatch.setattr(type(layer), "receive_nowait", property(lambda self: counting), raising=False)
    monkeypatch.setattr(base, "DRAIN_MAX", 16)
    events = [
        Outgoing([realtime.group_member(agent.pk)], {
            "type": realtime.HANDLER_TYPE, "meta": {"account_id": agent.account_id},
            "frame": realtime.build_frame("presence", {"member_id": 0, "n": n}),
        })
        for n in range(300)
    ]
    await layer.group_send_many(events)  # one pipeline: they queue up behind each other
    got = [(await receive(inbox, "presence"))["data"]["n"] for _ in range(300)]
    assert got == list(range(300))
    assert taken > 0
    assert await drain(inbox) == []
    await close(inbox)
