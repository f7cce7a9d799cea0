"""The inbox's cached fragments and lighter reads keep what the pages show.

Rows and messages come from the fragment cache under a fingerprint of what
they show (``conversations/views/_fragments.py``): cached HTML must equal a
fresh render (what ``conversations.events`` sends live), every shown value
must change the key, and a change made with ``QuerySet.update()`` (which
leaves ``updated_at`` alone) must show at once. The search's two strategies
must find the same conversations.
"""

from __future__ import annotations

import datetime as dt

import pytest

from django.core.cache import caches
from django.db import connection
from django.template import engines
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from conversations import html, selectors
from conversations.models import Attachment, Contact, Conversation, Message
from conversations.selectors import (
    conversation_rows,
    conversation_search_ids,
    message_list,
    message_thread,
    search_filter,
    search_filter_indexed,
)
from conversations.views import _fragments, _reads
from tests import factories

pytestmark = pytest.mark.django_db

ROW = "conversations/live/conversation_row.html"
MESSAGE = "conversations/live/message.html"


@pytest.fixture
def varied_rows(account, agent):
    """Conversations covering every branch of the row template."""
    campaign = factories.CampaignFactory(account=account, name="Motor <b>")
    anonymous = factories.ContactFactory(account=account, name="", email="", phone="+34 600 000 001", is_online=True)
    now = timezone.now()
    rows = [
        factories.ConversationFactory(account=account, priority=3, unread_agent=2, last_message_preview="Hi <there>"),
        factories.ConversationFactory(account=account, contact=anonymous, status=Conversation.Status.BOT, channel="whatsapp"),
        factories.ConversationFactory(
            account=account, status=Conversation.Status.SNOOZED, assignee=agent, campaign=campaign, priority=2,
            snoozed_until=now + dt.timedelta(hours=2), awaiting_reply_since=now, channel="sms",
        ),
        factories.ConversationFactory(account=account, status=Conversation.Status.ASSIGNED, assignee=agent, priority=0),
        factories.ConversationFactory(account=account, status=Conversation.Status.CLOSED, closed_at=now, last_message_at=None),
    ]
    return conversation_rows(account_id=account.pk, ids=[c.pk for c in rows])


@pytest.fixture
def varied_thread(account, agent):
    """Messages covering every branch of the message template."""
    conversation = factories.ConversationFactory(account=account, status=Conversation.Status.ASSIGNED, assignee=agent)
    make = factories.MessageFactory
    kwargs = {"account": account, "conversation": conversation}
    with_files = make(**kwargs, content="See https://shop.example.test/cars/1 and\nwrite to a@b.test")
    Attachment.objects.create(account=account, message=with_files, name="car.png", content_type="image/png", size=2048,
                              file="attachments/car.png", thumbnail="attachments/thumbs/car.png")
    Attachment.objects.create(account=account, message=with_files, name="offer.pdf", content_type="application/pdf",
                              size=123456, file="attachments/offer.pdf")
    make(**kwargs, sender_type=Message.Sender.AGENT, sender_membership=agent, content="On my way", status=Message.Status.READ)
    make(**kwargs, sender_type=Message.Sender.AGENT, sender_membership=agent, kind=Message.Kind.NOTE, content="Internal")
    make(**kwargs, sender_type=Message.Sender.AGENT, sender_membership=None, content="Agent gone")
    make(**kwargs, sender_type=Message.Sender.BOT, kind=Message.Kind.QUICK_REPLIES, content="Pick one",
         payload={"options": [{"label": "Yes"}, {"label": "No"}]})
    make(**kwargs, sender_type=Message.Sender.BOT, kind=Message.Kind.CARD, content="",
         payload={"title": "Corolla", "url": "https://shop.example.test/1", "image_url": "https://img.test/1.jpg", "price": "9 €"})
    make(**kwargs, kind=Message.Kind.LOCATION, content="", payload={"lat": 40.4168, "lng": -3.7038, "name": "Sol"})
    make(**kwargs, sender_type=Message.Sender.SYSTEM, kind=Message.Kind.SYSTEM, content="Ana joined", payload={"internal": True})
    make(**kwargs, sender_type=Message.Sender.SYSTEM, kind=Message.Kind.SYSTEM, content="Closing", payload={"event": "closing"})
    make(**kwargs, content="", status=Message.Status.FAILED, client_id="c-1")
    conversation = selectors.conversation_get(account_id=account.pk, conversation_id=conversation.pk)
    return message_thread(conversation=conversation, limit=50)


def _fresh_rows(rows, active_id=None):
    return [render_to_string(ROW, {"conversation": c, "active_id": active_id}) for c in rows]


def _fresh_messages(messages):
    return [render_to_string(MESSAGE, {"message": m}) for m in messages]


@pytest.mark.parametrize("language", ["en", "es"])
def test_cached_fragments_equal_a_fresh_render(varied_rows, varied_thread, language):
    with translation.override(language):
        active = varied_rows[2].pk
        first = _fragments.render_rows(varied_rows, active_id=active)
        cached = _fragments.render_rows(varied_rows, active_id=active)
        assert first == cached == _fresh_rows(varied_rows, active)
        assert 'aria-current="true"' in cached[2] and "aria-current" not in cached[0]

        first = _fragments.render_messages(varied_thread)
        assert first == _fragments.render_messages(varied_thread) == _fresh_messages(varied_thread)
    assert "Motor &lt;b&gt;" in "".join(cached)


def test_the_second_render_comes_from_the_cache(varied_rows, varied_thread, monkeypatch):
    renders = []

    class Counting:
        def __init__(self, backend_template):
            self.backend_template = backend_template
            self.template = backend_template.template  # its source goes into the keys

        def render(self, context):
            renders.append(context)
            return self.backend_template.render(context)

    real = _fragments.get_template
    monkeypatch.setattr(_fragments, "get_template", lambda name: Counting(real(name)))
    first_rows, first_messages = _fragments.render_rows(varied_rows), _fragments.render_messages(varied_thread)
    assert len(renders) == len(varied_rows) + len(varied_thread)
    renders.clear()
    assert _fragments.render_rows(varied_rows) == first_rows
    assert _fragments.render_messages(varied_thread) == first_messages
    assert renders == []  # every fragment was a hit
    varied_rows[0].unread_agent += 1
    _fragments.render_rows(varied_rows)
    assert [c["conversation"] for c in renders] == [varied_rows[0]]  # only the changed row again


def test_a_language_gets_its_own_fragments(varied_rows, varied_thread):
    english = _fragments.render_messages(varied_thread)
    with translation.override("es"):
        spanish = _fragments.render_messages(varied_thread)
        rows = "".join(_fragments.render_rows(varied_rows))
    assert "Automatic message" in "".join(english)
    assert "Mensaje automático" in "".join(spanish) and "Automatic message" not in "".join(spanish)
    assert "Urgente" in rows and "Pospuesta" in rows


ROW_CHANGES = [
    ("unread_agent", lambda c: setattr(c, "unread_agent", c.unread_agent + 1)),
    ("status", lambda c: setattr(c, "status", Conversation.Status.CLOSED)),
    ("priority", lambda c: setattr(c, "priority", 1)),
    ("channel", lambda c: setattr(c, "channel", "web")),
    ("assignee_id", lambda c: setattr(c, "assignee_id", None)),
    ("campaign_id", lambda c: setattr(c, "campaign_id", None)),
    ("site_id", lambda c: setattr(c, "site_id", None)),
    ("queued_at", lambda c: setattr(c, "queued_at", timezone.now())),
    ("last_message_at", lambda c: setattr(c, "last_message_at", timezone.now() + dt.timedelta(seconds=1))),
    ("closed_at", lambda c: setattr(c, "closed_at", timezone.now())),
    ("awaiting_reply_since", lambda c: setattr(c, "awaiting_reply_since", None)),
    ("last_message_preview", lambda c: setattr(c, "last_message_preview", "new text")),
    ("contact name", lambda c: setattr(c.contact, "name", "Someone else")),
    ("contact email", lambda c: setattr(c.contact, "email", "x@y.test")),
    ("contact phone", lambda c: setattr(c.contact, "phone", "+1 555")),
    ("contact online", lambda c: setattr(c.contact, "is_online", not c.contact.is_online)),
    ("campaign name", lambda c: setattr(c.campaign, "name", "Health")),
    ("assignee name", lambda c: setattr(c.assignee.user, "name", "Renamed")),
    ("assignee email", lambda c: setattr(c.assignee.user, "email", "renamed@acme.test")),
]


@pytest.mark.parametrize("label, change", ROW_CHANGES, ids=[label for label, _ in ROW_CHANGES])
def test_every_value_a_row_shows_changes_its_key(varied_rows, label, change):
    row = varied_rows[2]  # snoozed, assigned, with a campaign: every field is set
    before = _fragments.row_fingerprint(row)
    change(row)
    assert _fragments.row_fingerprint(row) != before, label
    assert _fragments.row_fingerprint(row, active_id=row.pk) != _fragments.row_fingerprint(row)


MESSAGE_CHANGES = [
    ("status", lambda m: setattr(m, "status", Message.Status.DELIVERED)),
    ("content", lambda m: setattr(m, "content", "edited")),
    ("kind", lambda m: setattr(m, "kind", Message.Kind.NOTE)),
    ("payload", lambda m: setattr(m, "payload", {"title": "x"})),
    ("client_id", lambda m: setattr(m, "client_id", "other")),
    ("created_at", lambda m: setattr(m, "created_at", m.created_at + dt.timedelta(minutes=1))),
    ("sender_type", lambda m: setattr(m, "sender_type", Message.Sender.BOT)),
    ("contact name", lambda m: setattr(m.conversation.contact, "name", "New name")),
    ("attachment", lambda m: setattr(m.attachments.all()[0], "name", "other.png")),
]


@pytest.mark.parametrize("label, change", MESSAGE_CHANGES, ids=[label for label, _ in MESSAGE_CHANGES])
def test_every_value_a_message_shows_changes_its_key(varied_thread, label, change):
    message = varied_thread[0]  # from the contact, with two attachments
    before = _fragments.message_fingerprint(message)
    change(message)
    assert _fragments.message_fingerprint(message) != before, label


def test_agent_name_changes_the_message_key(varied_thread):
    message = next(m for m in varied_thread if m.sender_membership_id)
    before = _fragments.message_fingerprint(message)
    message.sender_membership.user.name = "Someone"
    assert _fragments.message_fingerprint(message) != before


def test_an_update_without_updated_at_shows_at_once(account, agent, htmx_client_for):
    """Counters, presence and delivery status are written with ``QuerySet.update()``."""
    conversation = factories.ConversationFactory(account=account, status=Conversation.Status.ASSIGNED, assignee=agent)
    message = factories.MessageFactory(account=account, conversation=conversation, status=Message.Status.SENT)
    client = htmx_client_for(agent)
    rows_url, pane_url = reverse("inbox:mine"), reverse("inbox:conversation", args=[conversation.pk])

    assert 'data-unread="0"' in client.get(rows_url, HTTP_HX_TARGET="conv-rows").content.decode()
    assert 'data-status="sent"' in client.get(pane_url, HTTP_HX_TARGET="conversation-pane").content.decode()
    Conversation.objects.filter(pk=conversation.pk).update(unread_agent=7)
    Contact.objects.filter(pk=conversation.contact_id).update(is_online=True)
    Message.objects.filter(pk=message.pk).update(status=Message.Status.READ)

    rows = client.get(rows_url, HTTP_HX_TARGET="conv-rows").content.decode()
    assert 'data-unread="7"' in rows and 'data-online="true"' in rows
    assert 'data-status="read"' in client.get(pane_url, HTTP_HX_TARGET="conversation-pane").content.decode()


def test_pages_render_when_the_cache_is_down(account, agent, client_for, monkeypatch):
    conversation = factories.ConversationFactory(account=account, status=Conversation.Status.ASSIGNED, assignee=agent)
    factories.MessageFactory(account=account, conversation=conversation, content="still here")
    cache = caches["default"]

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "get_many", broken)
    client = client_for(agent)
    assert f'id="conv-row-{conversation.pk}"' in client.get(reverse("inbox:mine")).content.decode()
    assert "still here" in client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()


def test_the_cache_can_be_switched_off(varied_rows, settings, monkeypatch):
    settings.INBOX_FRAGMENT_CACHE = False
    monkeypatch.setattr(caches["default"], "get_many", lambda *a, **k: pytest.fail("cache used"))
    assert _fragments.render_rows(varied_rows) == _fresh_rows(varied_rows)


# --- The template helpers the fragments use ----------------------------------------------


@pytest.mark.parametrize("zone", ["UTC", "Europe/Madrid", "America/Bogota"])
def test_hm_shows_what_the_time_filter_shows(zone):
    template = engines["django"].from_string('{% load inbox %}{{ when|hm }}|{{ when|time:"H:i" }}')
    with timezone.override(zone):
        for when in (dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC), dt.datetime(2026, 11, 22, 23, 5, tzinfo=dt.UTC), None):
            ours, django_s = template.render({"when": when}).split("|")
            assert ours == django_s


@pytest.mark.parametrize("language", ["en", "es"])
def test_label_is_the_choice_display(language):
    conversation = Conversation()
    with translation.override(language):
        for field, choices in (("channel", Conversation.Channel), ("priority", Conversation.Priority), ("status", Conversation.Status)):
            template = engines["django"].from_string(f'{{% load inbox %}}{{{{ c|label:"{field}" }}}}')
            for value in [*choices.values, "unknown"]:
                setattr(conversation, field, value)
                assert template.render({"c": conversation}) == str(getattr(conversation, f"get_{field}_display")())


ROW_DATA_SPELLED_OUT = (
    """{% load inbox l10n %}{% localize off %}data-conversation-id="{{ conversation.pk }}" data-contact-id="{{ conversation.contact_id }}" """
    """data-status="{{ conversation.status }}" data-assignee="{{ conversation.assignee_id|default_if_none:'' }}" """
    """data-campaign="{{ conversation.campaign_id|default_if_none:'' }}" data-site="{{ conversation.site_id|default_if_none:'' }}" """
    """data-channel="{{ conversation.channel }}" data-priority="{{ conversation.priority }}" data-unread="{{ conversation.unread_agent }}" """
    """data-queued-at="{{ conversation.queued_at|iso }}" data-last-message-at="{{ conversation.last_message_at|iso }}" """
    """data-closed-at="{{ conversation.closed_at|iso }}" data-awaiting-since="{{ conversation.awaiting_reply_since|iso }}"{% endlocalize %}"""
)
MESSAGE_DATA_SPELLED_OUT = (
    """{% load inbox l10n %}{% localize off %}data-message-id="{{ message.pk }}" data-client-id="{{ message.client_id }}" """
    """data-sender="{{ message.sender_type }}" data-sender-member="{{ message.sender_membership_id|default_if_none:'' }}" """
    """data-kind="{{ message.kind }}" data-status="{{ message.status }}" data-created-at="{{ message.created_at|iso }}"{% endlocalize %}"""
)


@pytest.mark.parametrize("language", ["en", "es"])
def test_data_attributes_are_what_the_template_spelled_out(varied_rows, varied_thread, language):
    engine = engines["django"]
    with translation.override(language):
        for conversation in varied_rows:
            conversation.unread_agent = 12345  # a number a localized render would group
            expected = engine.from_string(ROW_DATA_SPELLED_OUT).render({"conversation": conversation})
            assert engine.from_string("{% load inbox %}{{ c|row_data }}").render({"c": conversation}) == expected
        for message in varied_thread:
            if message.kind == "system" and message.payload.get("event") != "closing":
                continue  # a system line carries its own few attributes
            expected = engine.from_string(MESSAGE_DATA_SPELLED_OUT).render({"message": message})
            assert f" {expected}>" in html.message_bubble(message)


def test_conversation_url_is_the_reversed_url():
    template = engines["django"].from_string("{% load inbox %}{{ pk|conversation_url }}")
    for pk in (1, 42, 9_876_543_210_124):
        assert template.render({"pk": pk}) == reverse("inbox:conversation", args=[pk])


# --- Lighter reads: the same rows ----------------------------------------------------------


def test_message_thread_reads_what_message_list_reads(varied_thread):
    conversation = varied_thread[0].conversation
    ids = [m.pk for m in varied_thread]
    for kwargs in ({}, {"before": ids[5]}, {"after": ids[2]}, {"before": ids[0]}):
        for limit in (3, 50):
            thread = message_thread(conversation=conversation, limit=limit, **kwargs)
            assert [m.pk for m in thread] == [m.pk for m in message_list(conversation=conversation, limit=limit, **kwargs)]
    with CaptureQueriesContext(connection) as captured:
        thread = message_thread(conversation=conversation, limit=50)
        _fresh_messages(thread)
        [_fragments.message_fingerprint(m) for m in thread]
    assert len(captured) == 2  # the messages with their senders, and their attachments
    assert all(m.conversation is conversation for m in thread)


def test_conversation_rows_keep_the_order_and_the_tenant(account, other_conversation, varied_rows):
    ids = [c.pk for c in reversed(varied_rows)]
    with CaptureQueriesContext(connection) as captured:
        rows = conversation_rows(account_id=account.pk, ids=[*ids, other_conversation.pk])
        _fresh_rows(rows)
        [_fragments.row_fingerprint(r) for r in rows]
    assert [r.pk for r in rows] == ids
    assert len(captured) == 1


# --- Search: both strategies find the same conversations ------------------------------------


@pytest.fixture
def searchable(account, other_account, agent):
    def conv(contact_kwargs=None, text="", **kwargs):
        contact = factories.ContactFactory(account=account, **(contact_kwargs or {}))
        conversation = factories.ConversationFactory(account=account, contact=contact, **kwargs)
        if text:
            factories.MessageFactory(account=account, conversation=conversation, content=text)
        return conversation

    for i in range(12):
        conv(text=f"Question {i} about the warranty", last_message_at=timezone.now() - dt.timedelta(minutes=i))
    conv({"name": "Lucía Pérez"})
    conv({"email": "LUCIA@mail.test", "name": ""})
    conv({"phone": "+34 611 222 333"})
    conv({"document_number": "X1234567Z"})
    conv(text="Is FINANCING available?")
    conv(text="no match here", status=Conversation.Status.ASSIGNED, assignee=agent)
    # Another tenant's twins never match.
    other_contact = factories.ContactFactory(account=other_account, name="Lucía Pérez")
    other = factories.ConversationFactory(account=other_account, contact=other_contact)
    factories.MessageFactory(account=other_account, conversation=other, content="financing and warranty")
    return account


TERMS = ["warranty", "lucía", "lucia@", "611 222", "x1234", "financing", "nothing-matches", "question 1"]


@pytest.mark.parametrize("term", TERMS)
def test_both_search_strategies_find_the_same_conversations(searchable, supervisor, term):
    qs = selectors.conversation_list(membership=supervisor, view="open")
    per_row = list(search_filter(qs, account_id=searchable.pk, term=term).values_list("pk", flat=True))
    indexed = list(search_filter_indexed(qs, account_id=searchable.pk, term=term).values_list("pk", flat=True))
    assert per_row == indexed


@pytest.mark.parametrize("term", TERMS)
@pytest.mark.parametrize("window", [2, 5, 1000])
def test_search_ids_are_the_first_matches_in_list_order(searchable, supervisor, monkeypatch, term, window):
    monkeypatch.setattr(selectors, "SEARCH_WINDOW", window)
    qs = selectors.conversation_list(membership=supervisor, view="open")
    expected = list(search_filter(qs, account_id=searchable.pk, term=term).values_list("pk", flat=True)[:4])
    assert conversation_search_ids(qs, account_id=searchable.pk, term=term, limit=4) == expected


def test_search_pages_through_a_long_list(searchable, supervisor, htmx_client_for, monkeypatch):
    """A rare term past the window: found from the index side, then paged with the cursor."""
    monkeypatch.setattr(selectors, "SEARCH_WINDOW", 2)
    monkeypatch.setattr(_reads, "PAGE_SIZE", 5)
    client = htmx_client_for(supervisor)
    seen, url = [], reverse("inbox:open") + "?q=question"
    while url:
        body = client.get(url, HTTP_HX_TARGET="conv-rows").content.decode()
        seen += [int(part.split('"')[0]) for part in body.split('id="conv-row-')[1:]]
        url = body.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&") if "data-more" in body else ""
    qs = selectors.conversation_list(membership=supervisor, view="open")
    assert seen == list(search_filter(qs, account_id=searchable.pk, term="question").values_list("pk", flat=True))
    assert len(seen) == 12


def test_fragments_escape_what_people_typed(account, agent):
    """The fragments are built in Python (``conversations.html``): every
    typed value is escaped as the template language would."""
    from conversations import html

    contact = factories.ContactFactory(account=account, name='<b>"Eve"</b> & co')
    agent.user.name = "<i>Ana</i>"
    agent.user.save()
    conversation = factories.ConversationFactory(
        account=account, contact=contact, assignee=agent, status=Conversation.Status.ASSIGNED,
        last_message_preview="<script>alert(1)</script>", priority=2,
    )
    make = factories.MessageFactory
    make(account=account, conversation=conversation, content="<script>x</script> see https://a.test/?a=1&b=2\nbye")
    make(account=account, conversation=conversation, sender_type=Message.Sender.BOT, kind=Message.Kind.CARD, content="",
         payload={"title": "<b>t</b>", "url": 'https://x.test/"onmouseover', "price": "<1>"})
    make(account=account, conversation=conversation, sender_type=Message.Sender.BOT, kind=Message.Kind.QUICK_REPLIES,
         content="q", payload={"options": [{"label": "<x>"}]})
    thread = message_thread(conversation=selectors.conversation_get(account_id=account.pk, conversation_id=conversation.pk), limit=10)
    out = "".join(html.message_bubble(m) for m in thread) + html.conversation_row(
        conversation_rows(account_id=account.pk, ids=[conversation.pk])[0]
    )
    for raw in ("<script>", "<b>", "<i>", "<x>", "<1>", '"onmouseover', '"Eve"'):
        assert raw not in out
    assert "&lt;script&gt;x&lt;/script&gt;" in out and "<br>bye" in out
    assert '<a href="https://a.test/?a=1&amp;b=2" rel="nofollow">' in out  # urlize, as before
    assert "&lt;b&gt;&quot;Eve&quot;&lt;/b&gt; &amp; co" in out and "&lt;i&gt;Ana&lt;/i&gt;" in out


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_bubble_drawn_from_the_frame_is_the_page_s(varied_thread, agent, language):
    """An agent socket that shows the thread draws a live message's bubble
    from the frame's message (``html.message_bubble_of_data``, after the
    channel layer's msgpack): the markup must be the page's, every branch."""
    import msgpack

    from conversations import events

    hostile = factories.MessageFactory(
        account=agent.account, conversation=varied_thread[0].conversation, sender_type=Message.Sender.AGENT,
        sender_membership=agent, content='<script>x()</script> "q" & www.example.test\n\nbye',
    )
    thread = [*varied_thread, Message.objects.select_related("sender_membership__user", "conversation__contact").get(
        pk=hostile.pk)]
    with translation.override(language):
        for message in thread:
            data = msgpack.unpackb(msgpack.packb(events.message_data(message)))
            assert html.message_bubble_of_data(data) == html.message_bubble(message), message.kind
    assert "&lt;script&gt;" in html.message_bubble(thread[-1])
