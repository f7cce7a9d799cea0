"""The agent inbox pages: full page without htmx, the targeted fragment with
it; filters, search and keyset pages; permissions; refused actions leave
everything as it was and say why."""

from __future__ import annotations

import io
import re

import pytest

from django.utils import timezone

from accounts.models import Membership
from conversations import events, services
from conversations.models import CannedResponse, Conversation, Message, PageView
from tests import factories

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def html(response) -> str:
    return response.content.decode()


def row_ids(response) -> list[int]:
    return [int(x) for x in re.findall(r'id="conv-row-(\d+)"', html(response))]


def make_conversation(account, **kwargs) -> Conversation:
    contact_kwargs = kwargs.pop("contact_kwargs", {})
    contact = factories.ContactFactory(account=account, **contact_kwargs)
    return factories.ConversationFactory(account=account, contact=contact, **kwargs)


def assigned(account, membership, **kwargs) -> Conversation:
    return make_conversation(account, assignee=membership, status=Conversation.Status.ASSIGNED, **kwargs)


# --- Lists -------------------------------------------------------------------------------


def test_index_redirects_to_queue_when_nothing_is_mine_then_to_mine(account, agent, client_for):
    client = client_for(agent)
    assert client.get("/app/")["Location"] == "/app/queue/"
    assigned(account, agent)
    assert client.get("/app/")["Location"] == "/app/mine/"


def test_inbox_requires_login(client, account):
    response = client.get("/app/queue/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_queue_full_page_and_htmx_fragments(account, agent, conversation, client_for, htmx_client_for):
    page = client_for(agent).get("/app/queue/")
    assert page.status_code == 200
    body = html(page)
    assert "<html" in body and 'id="inbox"' in body and 'id="inbox-config"' in body
    assert f'id="conv-row-{conversation.pk}"' in body

    htmx = htmx_client_for(agent)
    rows = htmx.get("/app/queue/", HTTP_HX_TARGET="conv-rows")
    assert "<html" not in html(rows) and 'id="list-pane"' not in html(rows)
    assert row_ids(rows) == [conversation.pk]

    workspace = htmx.get("/app/queue/", HTTP_HX_TARGET="inbox")
    assert "<html" not in html(workspace)
    assert 'id="inbox"' in html(workspace)
    assert 'id="inbox-nav"' in html(workspace) and 'hx-swap-oob="outerHTML"' in html(workspace)

    pane = htmx.get("/app/queue/", HTTP_HX_TARGET="list-pane")
    assert html(pane).lstrip().startswith("<section") and 'id="list-pane"' in html(pane)


def test_history_restore_gets_the_whole_page(agent, conversation, htmx_client_for):
    response = htmx_client_for(agent).get(
        "/app/queue/", HTTP_HX_TARGET="inbox", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in html(response)


def test_queue_shows_only_waiting_unassigned_conversations(account, agent, agent2, client_for):
    waiting = make_conversation(account)
    urgent = make_conversation(account, priority=Conversation.Priority.URGENT)
    assigned(account, agent2)
    make_conversation(account, status=Conversation.Status.CLOSED, closed_at=timezone.now())
    make_conversation(account, status=Conversation.Status.BOT)

    response = client_for(agent).get("/app/queue/")

    assert row_ids(response) == [urgent.pk, waiting.pk]  # priority first, then waiting time


def test_mine_shows_my_open_conversations_newest_first(account, agent, agent2, client_for):
    older = assigned(account, agent, last_message_at=timezone.now() - timezone.timedelta(hours=1))
    newer = assigned(account, agent)
    assigned(account, agent2)
    make_conversation(account, assignee=agent, status=Conversation.Status.CLOSED, closed_at=timezone.now())

    assert row_ids(client_for(agent).get("/app/mine/")) == [newer.pk, older.pk]


def test_all_open_is_for_supervisors(account, agent, agent2, supervisor, client_for):
    theirs = assigned(account, agent2)
    waiting = make_conversation(account)

    assert client_for(agent).get("/app/open/").status_code == 403
    ids = row_ids(client_for(supervisor).get("/app/open/"))
    assert set(ids) == {theirs.pk, waiting.pk}


def test_closed_view_lists_closed_ones(account, agent, client_for):
    closed = make_conversation(account, assignee=agent, status=Conversation.Status.CLOSED, closed_at=timezone.now())
    make_conversation(account)

    assert row_ids(client_for(agent).get("/app/closed/")) == [closed.pk]


def test_list_filters_by_channel_priority_site_and_campaign(account, agent, supervisor, client_for):
    site2 = factories.SiteFactory(account=account, name="Second")
    campaign = factories.CampaignFactory(account=account, name="Home insurance")
    web = make_conversation(account)
    whatsapp = make_conversation(account, channel=Conversation.Channel.WHATSAPP, priority=Conversation.Priority.HIGH)
    other_site = make_conversation(account, contact_kwargs={"site": site2})
    other_site.site = site2
    other_site.save(update_fields=["site"])
    in_campaign = make_conversation(account, campaign=campaign)
    client = client_for(supervisor)

    assert row_ids(client.get("/app/queue/?channel=whatsapp")) == [whatsapp.pk]
    assert row_ids(client.get("/app/queue/?priority=2")) == [whatsapp.pk]
    assert row_ids(client.get(f"/app/queue/?site={site2.pk}")) == [other_site.pk]
    assert row_ids(client.get(f"/app/queue/?campaign={campaign.pk}")) == [in_campaign.pk]
    # A stale or forged filter value is ignored, not an error.
    assert set(row_ids(client.get("/app/queue/?site=999999&priority=x"))) == {web.pk, whatsapp.pk, other_site.pk, in_campaign.pk}


@pytest.mark.parametrize(
    "query",
    ["Zoe Quintana", "zoe.q@example", "+34 611", "X-77812", "blue hatchback"],
)
def test_search_by_name_email_phone_document_and_message_text(account, agent, client_for, query):
    target = make_conversation(
        account,
        contact_kwargs={"name": "Zoe Quintana", "email": "zoe.q@example.test", "phone": "+34 611 222 333", "document_number": "X-77812"},
    )
    factories.MessageFactory(account=account, conversation=target, content="Is the blue hatchback still for sale?")
    make_conversation(account)

    response = client_for(agent).get("/app/queue/", {"q": query})

    assert row_ids(response) == [target.pk]


def test_search_with_no_result_says_so(account, agent, conversation, client_for):
    response = client_for(agent).get("/app/queue/?q=nobody-like-this")
    assert row_ids(response) == []
    assert "No conversations match" in html(response)


def test_list_keyset_pages_do_not_overlap(account, agent, client_for, htmx_client_for):
    now = timezone.now()
    conversations = [
        assigned(account, agent, last_message_at=now - timezone.timedelta(minutes=i % 7)) for i in range(35)
    ]
    first = client_for(agent).get("/app/mine/")
    first_ids = row_ids(first)
    assert len(first_ids) == 30
    more = re.search(r'class="conv-more"[^>]*href="([^"]+)"', html(first)).group(1).replace("&amp;", "&")
    assert "after=" in more

    second = htmx_client_for(agent).get(more, HTTP_HX_TARGET="conv-more-30-x")
    second_ids = row_ids(second)
    assert len(second_ids) == 5
    assert not set(first_ids) & set(second_ids)
    assert set(first_ids) | set(second_ids) == {c.pk for c in conversations}
    assert "conv-more" not in html(second)
    # The order is the selector's: newest activity first, ties by id.
    ordered = sorted(conversations, key=lambda c: (c.last_message_at, c.pk), reverse=True)
    assert first_ids + second_ids == [c.pk for c in ordered]


def test_list_links_keep_real_hrefs_and_htmx_attributes(agent, conversation, client_for):
    body = html(client_for(agent).get("/app/queue/"))
    assert f'href="/app/conversations/{conversation.pk}/" hx-get="/app/conversations/{conversation.pk}/"' in body
    assert 'hx-push-url="true"' in body
    assert 'hx-headers=\'{"X-CSRFToken"' in body


def test_counts_fragment(account, agent, client_for, htmx_client_for):
    make_conversation(account)
    mine = assigned(account, agent)
    Conversation.objects.filter(pk=mine.pk).update(unread_agent=2)

    response = htmx_client_for(agent).get("/app/counts/?view=mine")

    body = html(response)
    assert 'id="inbox-nav"' in body and "<html" not in body
    assert 'data-badge="2"' in body  # one unread conversation in Mine + one waiting in the queue
    assert 'data-count="queue">1<' in body


# --- One conversation ------------------------------------------------------------------------


def test_conversation_page_shows_thread_contact_and_composer(account, agent, client_for):
    conversation = assigned(
        account, agent,
        contact_kwargs={"name": "Marta Vidal", "email": "marta@example.test", "phone": "+34 600", "document_number": "Z123"},
        context={"title": "2019 Toyota Corolla", "url": "https://shop.example.test/car", "price": "€18,900"},
    )
    contact = conversation.contact
    services.message_send(conversation=conversation, sender_type="contact", content="Hello there")
    services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="Only for the team", private=True)
    services.message_send(conversation=conversation, sender_type="bot", kind="quick_replies", content="Pick one",
                          payload={"options": [{"label": "Price"}, {"label": "Visit"}]})
    PageView.objects.create(account=account, contact=contact, url="https://shop.example.test/cars/12", title="Corolla page")
    previous = make_conversation(account, contact_kwargs={}, assignee=agent, status=Conversation.Status.CLOSED, closed_at=timezone.now())
    previous.contact = contact
    previous.save(update_fields=["contact"])

    response = client_for(agent).get(f"/app/conversations/{conversation.pk}/")

    body = html(response)
    assert response.status_code == 200
    assert "Hello there" in body
    assert "msg--note" in body and "Only for the team" in body
    assert 'class="chip">Price<' in body
    assert "2019 Toyota Corolla" in body  # the context card
    assert "marta@example.test" in body and "Z123" in body
    assert "Corolla page" in body  # the trail of pages
    assert f"/app/conversations/{previous.pk}/" in body  # previous conversations
    assert 'id="composer"' in body and 'name="private"' in body
    assert 'id="canned-data"' in body
    assert f'id="conv-row-{conversation.pk}"' in body and 'aria-current="true"' in body


def test_conversation_fragments_by_target(account, agent, htmx_client_for):
    conversation = assigned(account, agent)
    client = htmx_client_for(agent)
    url = f"/app/conversations/{conversation.pk}/"

    pane = html(client.get(url, HTTP_HX_TARGET="conversation-pane"))
    assert pane.lstrip().startswith("<section") and 'id="conversation-pane"' in pane and "<html" not in pane
    assert 'id="list-pane"' not in pane
    header = html(client.get(url, HTTP_HX_TARGET="conv-header"))
    assert 'id="conv-header"' in header and 'id="thread"' not in header
    contact = html(client.get(url, HTTP_HX_TARGET="contact-pane"))
    assert contact.lstrip().startswith("<aside") and 'id="contact-pane"' in contact


def test_foreign_conversation_is_404(agent, other_conversation, client_for, htmx_client_for):
    assert client_for(agent).get(f"/app/conversations/{other_conversation.pk}/").status_code == 404
    assert htmx_client_for(agent).get(
        f"/app/conversations/{other_conversation.pk}/", HTTP_HX_TARGET="conversation-pane"
    ).status_code == 404


def test_agent_cannot_see_another_agents_conversation_supervisor_can(account, agent, agent2, supervisor, client_for):
    theirs = assigned(account, agent2)

    assert client_for(agent).get(f"/app/conversations/{theirs.pk}/").status_code == 404
    assert client_for(supervisor).get(f"/app/conversations/{theirs.pk}/").status_code == 200


def test_older_messages_keyset_and_catch_up(account, agent, htmx_client_for, client_for):
    conversation = assigned(account, agent)
    ids = [factories.MessageFactory(account=account, conversation=conversation, content=f"m{i}").pk for i in range(60)]
    client = htmx_client_for(agent)

    page = html(client_for(agent).get(f"/app/conversations/{conversation.pk}/"))
    shown = [int(x) for x in re.findall(r'id="msg-(\d+)"', page)]
    assert shown == ids[-30:]
    assert f"messages/?before={ids[30]}" in page

    older = html(client.get(f"/app/conversations/{conversation.pk}/messages/?before={ids[30]}"))
    assert [int(x) for x in re.findall(r'id="msg-(\d+)"', older)] == ids[:30]
    assert "Load older messages" not in older and "Conversation started" in older
    middle = html(client.get(f"/app/conversations/{conversation.pk}/messages/?before={ids[50]}"))
    assert [int(x) for x in re.findall(r'id="msg-(\d+)"', middle)] == ids[20:50]
    assert f"messages/?before={ids[20]}" in middle

    after = client.get(f"/app/conversations/{conversation.pk}/messages/?after={ids[-3]}")
    assert [int(x) for x in re.findall(r'id="msg-(\d+)"', html(after))] == ids[-2:]
    assert after["X-Charla-More"] == "0"

    # Without htmx the older page is a real page.
    no_js = client_for(agent).get(f"/app/conversations/{conversation.pk}/messages/?before={ids[30]}")
    assert no_js.status_code == 302 and no_js["Location"].endswith(f"?before={ids[30]}")
    assert "Jump to the newest" in html(client_for(agent).get(no_js["Location"]))


# --- Sending ------------------------------------------------------------------------------------


def test_send_without_javascript_stores_and_redirects(account, agent, client_for):
    conversation = assigned(account, agent)

    response = client_for(agent).post(f"/app/conversations/{conversation.pk}/messages/", {"content": "Hi from a form"})

    message = Message.objects.get(conversation=conversation)
    assert response.status_code == 302
    assert response["Location"] == f"/app/conversations/{conversation.pk}/#msg-{message.pk}"
    assert message.content == "Hi from a form" and message.sender_membership_id == agent.pk


def test_send_with_htmx_returns_the_message_fragment_once_per_client_id(account, agent, htmx_client_for):
    conversation = assigned(account, agent)
    client = htmx_client_for(agent)
    data = {"content": "Hello!", "client_id": "8c0e5b9e-1"}

    first = client.post(f"/app/conversations/{conversation.pk}/messages/", data)
    again = client.post(f"/app/conversations/{conversation.pk}/messages/", data)

    assert first.status_code == 201 and again.status_code == 200
    assert first["X-Charla-Message-Id"] == again["X-Charla-Message-Id"]
    assert 'data-client-id="8c0e5b9e-1"' in html(first)
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_private_note_is_stored_as_note(account, agent, htmx_client_for):
    conversation = assigned(account, agent)

    htmx_client_for(agent).post(f"/app/conversations/{conversation.pk}/messages/", {"content": "VIP", "private": "1"})

    assert Message.objects.get(conversation=conversation).kind == Message.Kind.NOTE


def test_reply_to_closed_conversation_is_refused_with_a_message(account, agent, client_for, htmx_client_for):
    conversation = make_conversation(account, assignee=agent, status=Conversation.Status.CLOSED, closed_at=timezone.now())
    url = f"/app/conversations/{conversation.pk}/messages/"

    fragment = htmx_client_for(agent).post(url, {"content": "Anyone?"})
    assert fragment.status_code == 400
    assert fragment["HX-Retarget"] == "#inbox-toasts"
    assert "This conversation is closed." in html(fragment)

    page = client_for(agent).post(url, {"content": "Anyone?"})
    assert page.status_code == 400
    assert "This conversation is closed." in html(page) and "<html" in html(page)
    assert not Message.objects.filter(conversation=conversation).exists()


@pytest.mark.parametrize("content", ["", "   ", "x" * 10_001])
def test_empty_or_oversize_message_refused(account, agent, htmx_client_for, content):
    conversation = assigned(account, agent)

    response = htmx_client_for(agent).post(f"/app/conversations/{conversation.pk}/messages/", {"content": content})

    assert response.status_code == 400
    assert "toast--error" in html(response)
    assert not Message.objects.filter(conversation=conversation).exists()


def test_reply_to_foreign_conversation_is_404(agent, other_conversation, client_for):
    response = client_for(agent).post(f"/app/conversations/{other_conversation.pk}/messages/", {"content": "x"})
    assert response.status_code == 404
    assert not Message.objects.filter(conversation=other_conversation).exists()


def test_attachment_upload_then_send(account, agent, client_for, htmx_client_for):
    conversation = assigned(account, agent)
    upload = io.BytesIO(PNG)
    upload.name = "dot.png"

    response = client_for(agent).post(f"/app/conversations/{conversation.pk}/attachments/", {"file": upload})

    assert response.status_code == 201
    data = response.json()
    assert data["content_type"] == "image/png" and data["is_image"]
    sent = htmx_client_for(agent).post(
        f"/app/conversations/{conversation.pk}/messages/", {"content": "", "attachments": str(data["id"])}
    )
    assert sent.status_code == 201
    message = Message.objects.get(conversation=conversation)
    assert message.kind == Message.Kind.IMAGE and message.attachments.get().pk == data["id"]
    assert "attachment--image" in html(sent)


def test_attachment_of_a_forbidden_type_is_refused(account, agent, client_for):
    conversation = assigned(account, agent)
    upload = io.BytesIO(b"MZ\x90\x00binary")
    upload.name = "tool.exe"

    response = client_for(agent).post(f"/app/conversations/{conversation.pk}/attachments/", {"file": upload})

    assert response.status_code == 400
    assert "not allowed" in response.json()["detail"]


def test_no_js_send_with_a_file(account, agent, client_for):
    conversation = assigned(account, agent)
    upload = io.BytesIO(PNG)
    upload.name = "photo.png"

    response = client_for(agent).post(f"/app/conversations/{conversation.pk}/messages/", {"content": "See", "file": upload})

    assert response.status_code == 302
    assert Message.objects.get(conversation=conversation).attachments.count() == 1


# --- Actions -------------------------------------------------------------------------------------


def test_agent_takes_a_conversation_from_the_queue(agent, conversation, htmx_client_for):
    response = htmx_client_for(agent).post(
        f"/app/conversations/{conversation.pk}/assign/", {"assignee": agent.pk, "expected_assignee": ""}
    )

    conversation.refresh_from_db()
    assert response.status_code == 200
    assert conversation.assignee_id == agent.pk and conversation.status == Conversation.Status.ASSIGNED
    assert 'id="conversation-pane"' in html(response) and "The conversation is yours." in html(response)


def test_plain_agent_cannot_reassign(account, agent, agent2, client_for, htmx_client_for):
    conversation = assigned(account, agent)

    fragment = htmx_client_for(agent).post(f"/app/conversations/{conversation.pk}/assign/", {"assignee": agent2.pk})
    page = client_for(agent).post(f"/app/conversations/{conversation.pk}/assign/", {"assignee": agent2.pk})

    assert fragment.status_code == 403 and "Only supervisors can reassign" in html(fragment)
    assert page.status_code == 403 and "Only supervisors can reassign" in html(page)
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.pk


def test_supervisor_reassigns_and_unassigns(account, agent, agent2, supervisor, client_for):
    conversation = assigned(account, agent)
    client = client_for(supervisor)

    response = client.post(f"/app/conversations/{conversation.pk}/assign/", {"assignee": agent2.pk})
    conversation.refresh_from_db()
    assert response.status_code == 302 and conversation.assignee_id == agent2.pk

    client.post(f"/app/conversations/{conversation.pk}/unassign/")
    conversation.refresh_from_db()
    assert conversation.assignee_id is None and conversation.status == Conversation.Status.QUEUED


def test_supervisor_sees_agents_load_in_the_assign_dialog(account, agent, agent2, supervisor, client_for):
    conversation = assigned(account, agent)
    assigned(account, agent2)
    Membership.objects.filter(pk=agent2.pk).update(capacity=3, availability=Membership.Availability.AWAY)

    body = html(client_for(supervisor).get(f"/app/conversations/{conversation.pk}/"))

    assert 'id="assign-menu"' in body
    assert re.search(rf'data-member-id="{agent2.pk}".*?1/3', body, re.S)
    assert "Away" in body
    assert 'id="assign-menu"' not in html(client_for(agent).get(f"/app/conversations/{conversation.pk}/"))


def test_stale_assign_is_refused(account, agent, agent2, supervisor, htmx_client_for):
    conversation = make_conversation(account)
    services.conversation_assign(conversation=conversation, assignee=agent2, by=supervisor)

    # agent's page still showed the conversation waiting in the queue
    response = htmx_client_for(agent).post(
        f"/app/conversations/{conversation.pk}/assign/", {"assignee": agent.pk, "expected_assignee": ""}
    )

    assert response.status_code == 404  # it moved to agent2: no longer the agent's to see
    response = htmx_client_for(supervisor).post(
        f"/app/conversations/{conversation.pk}/assign/", {"assignee": supervisor.pk, "expected_assignee": ""}
    )
    assert response.status_code == 409 and "moved in the meantime" in html(response)
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent2.pk


def test_close_with_outcome_and_reopen(account, agent, htmx_client_for):
    conversation = assigned(account, agent)
    client = htmx_client_for(agent)

    response = client.post(f"/app/conversations/{conversation.pk}/close/", {"outcome": "purchased"})
    conversation.refresh_from_db()
    assert response.status_code == 200
    assert conversation.status == Conversation.Status.CLOSED and conversation.outcome == "purchased"
    assert 'id="composer-closed"' in html(response)

    client.post(f"/app/conversations/{conversation.pk}/reopen/")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ASSIGNED


def test_close_refused_for_another_agents_conversation(account, agent, agent2, supervisor, htmx_client_for):
    campaign = factories.CampaignFactory(account=account)
    campaign.agents.add(agent, agent2)
    conversation = assigned(account, agent2, campaign=campaign)  # visible to agent through the campaign

    response = htmx_client_for(agent).post(f"/app/conversations/{conversation.pk}/close/", {"outcome": "resolved"})

    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ASSIGNED


def test_snooze_with_a_preset(account, agent, htmx_client_for):
    conversation = assigned(account, agent)

    response = htmx_client_for(agent).post(f"/app/conversations/{conversation.pk}/snooze/", {"preset": "1h", "tz": "Europe/Madrid"})

    conversation.refresh_from_db()
    assert response.status_code == 200
    assert conversation.status == Conversation.Status.SNOOZED
    assert conversation.snoozed_until > timezone.now() + timezone.timedelta(minutes=55)


def test_snooze_in_the_past_is_refused(account, agent, htmx_client_for):
    conversation = assigned(account, agent)

    response = htmx_client_for(agent).post(f"/app/conversations/{conversation.pk}/snooze/", {"until": "2001-01-01T10:00"})

    assert response.status_code == 400 and "future" in html(response)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ASSIGNED


def test_fields_update_and_campaign_only_for_supervisors(account, agent, supervisor, htmx_client_for):
    conversation = assigned(account, agent)
    campaign = factories.CampaignFactory(account=account)

    response = htmx_client_for(agent).post(
        f"/app/conversations/{conversation.pk}/fields/",
        {"priority": "3", "lead_quality": "hot", "outcome": "offer_made", "campaign": str(campaign.pk)},
    )
    conversation.refresh_from_db()
    assert response.status_code == 200 and "Saved" in html(response)
    assert (conversation.priority, conversation.lead_quality, conversation.outcome) == (3, "hot", "offer_made")
    assert conversation.campaign_id is None  # an agent's campaign value is ignored

    htmx_client_for(supervisor).post(f"/app/conversations/{conversation.pk}/fields/", {"campaign": str(campaign.pk)})
    conversation.refresh_from_db()
    assert conversation.campaign_id == campaign.pk


def test_fields_reject_unknown_values(account, agent, htmx_client_for):
    conversation = assigned(account, agent)

    response = htmx_client_for(agent).post(f"/app/conversations/{conversation.pk}/fields/", {"priority": "9"})

    assert response.status_code == 400
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.NORMAL


def test_read_marks_contact_messages_read(account, agent, client_for):
    conversation = assigned(account, agent)
    message = services.message_send(conversation=conversation, sender_type="contact", content="hi").message

    response = client_for(agent).post(f"/app/conversations/{conversation.pk}/read/", {"message_id": message.pk})

    message.refresh_from_db()
    conversation.refresh_from_db()
    assert response.status_code == 204
    assert message.status == Message.Status.READ and conversation.unread_agent == 0


def test_availability_switch(agent, client_for, htmx_client_for):
    response = client_for(agent).post("/app/availability/", {"availability": "away", "next": "/app/queue/"})
    agent.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == "/app/queue/"
    assert agent.availability == Membership.Availability.AWAY

    bad = htmx_client_for(agent).post("/app/availability/", {"availability": "asleep"})
    assert bad.status_code == 400


# --- Live fragments ------------------------------------------------------------------------------


def test_live_row_is_the_same_fragment_as_the_page_row(account, agent, conversation, client_for, capture_events):
    with capture_events() as captured:
        services.conversation_update_fields(conversation=conversation, priority=2)
    live = captured.named("conversation.updated")[0]["data"]["html"].strip()

    page = html(client_for(agent).get("/app/queue/"))

    assert live in page


def test_live_message_fragment_is_neutral_to_the_viewer(account, agent, conversation):
    message = services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="Hello").message

    fragment = events.render_message_html(message)

    assert f'data-sender-member="{agent.pk}"' in fragment and 'data-sender="agent"' in fragment
    assert "You" not in fragment and "msg--mine" not in fragment
    assert "data-ticks" in fragment


# --- Saved replies ------------------------------------------------------------------------------------


def test_canned_agent_creates_personal_reply(agent, client_for):
    response = client_for(agent).post("/app/settings/canned/", {"shortcut": "/Thanks", "content": "Thank you!"})

    canned = CannedResponse.objects.get()
    assert response.status_code == 302
    assert canned.shortcut == "thanks" and canned.owner_id == agent.pk


def test_canned_agent_cannot_share(agent, client_for):
    response = client_for(agent).post("/app/settings/canned/", {"shortcut": "hi", "content": "Hi", "shared": "on"})

    assert response.status_code == 403
    assert "Only admins can change shared responses." in html(response)
    assert not CannedResponse.objects.exists()


def test_canned_admin_shares_and_agent_cannot_edit_it(account, admin_member, agent, client_for):
    client_for(admin_member).post("/app/settings/canned/", {"shortcut": "price", "content": "It costs 10.", "shared": "on"})
    canned = CannedResponse.objects.get()
    assert canned.owner_id is None

    page = client_for(agent).get(f"/app/settings/canned/{canned.pk}/")
    assert page.status_code == 200 and "Only admins can change shared replies." in html(page)
    response = client_for(agent).post(f"/app/settings/canned/{canned.pk}/", {"shortcut": "price", "content": "Free!"})
    assert response.status_code == 403
    assert client_for(agent).post(f"/app/settings/canned/{canned.pk}/delete/").status_code == 403
    canned.refresh_from_db()
    assert canned.content == "It costs 10."


def test_canned_edit_and_delete_own(account, agent, agent2, client_for):
    canned = factories.CannedResponseFactory(account=account, owner=agent, shortcut="bye", content="Bye")

    assert client_for(agent2).get(f"/app/settings/canned/{canned.pk}/").status_code == 404
    response = client_for(agent).post(f"/app/settings/canned/{canned.pk}/", {"shortcut": "bye", "content": "Goodbye!"})
    canned.refresh_from_db()
    assert response.status_code == 302 and canned.content == "Goodbye!"

    client_for(agent).post(f"/app/settings/canned/{canned.pk}/delete/")
    assert not CannedResponse.objects.exists()


def test_canned_duplicate_shortcut_and_bad_shortcut(account, agent, client_for):
    factories.CannedResponseFactory(account=account, owner=agent, shortcut="hello")
    client = client_for(agent)

    duplicate = client.post("/app/settings/canned/", {"shortcut": "hello", "content": "Again"})
    bad = client.post("/app/settings/canned/", {"shortcut": "two words", "content": "x"})

    assert duplicate.status_code == 400 and "already in use" in html(duplicate)
    assert bad.status_code == 400 and "lowercase letters" in html(bad)


def test_canned_foreign_is_404(other_account, agent, client_for):
    foreign = factories.CannedResponseFactory(account=other_account)
    assert client_for(agent).get(f"/app/settings/canned/{foreign.pk}/").status_code == 404


def test_canned_list_and_composer_data(account, agent, agent2, client_for):
    factories.CannedResponseFactory(account=account, shortcut="shared-one", content="For all")
    factories.CannedResponseFactory(account=account, owner=agent, shortcut="mine-one", content="Mine")
    factories.CannedResponseFactory(account=account, owner=agent2, shortcut="theirs", content="Not yours")
    conversation = assigned(account, agent)

    listing = html(client_for(agent).get("/app/settings/canned/"))
    composer = html(client_for(agent).get(f"/app/conversations/{conversation.pk}/"))

    assert "/shared-one" in listing and "/mine-one" in listing and "/theirs" not in listing
    data = re.search(r'<script id="canned-data" type="application/json">(.*?)</script>', composer).group(1)
    assert "shared-one" in data and "mine-one" in data and "theirs" not in data
