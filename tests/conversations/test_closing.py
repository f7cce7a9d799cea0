"""Closing: auto-close after 24 h idle, the closing message on every channel,
the PDF transcript, the customer's email, reporting facts, idempotency."""

from __future__ import annotations

import io
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from pypdf import PdfReader

from django.core import mail
from django.db import connection, transaction
from django.urls import include, path

from accounts.models import Account
from conversations import services, views_transcript
from conversations.models import Conversation, Message
from conversations.services import closing, delivery, transcripts
from reports.models import ReportEvent
from tests import factories

# The inbox engineer owns conversations/urls.py; these tests mount the
# transcript views the way docs/routing.md asks the lead to.
urlpatterns = [
    path(
        "app/conversations/<int:conversation_id>/transcript.pdf",
        views_transcript.transcript_download,
        name="transcript_download",
    ),
    path("transcripts/<str:token>/", views_transcript.transcript_public, name="transcript_public"),
    path("", include("config.urls")),
]

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def eager_celery():
    from config.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def pdf_text(conversation: Conversation) -> str:
    conversation.refresh_from_db()
    with conversation.transcript.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return " ".join(re.sub(r"\s+", " ", page.extract_text() or "") for page in reader.pages)


def closing_messages(conversation) -> list[Message]:
    return list(Message.objects.filter(conversation=conversation, payload__event="closing"))


@pytest.fixture
def chat(account, agent, contact, django_capture_on_commit_callbacks):
    """A conversation with a customer, an agent, the bot, a note and system lines,
    in Spanish. The last real message is at T0 + 1 h."""
    with time_machine.travel(T0, tick=False) as traveller, django_capture_on_commit_callbacks(execute=True):
        conversation = services.contact_message_send(
            contact=contact, client_id="c1", content="¿Cuánto cuesta el envío a Logroño?"
        ).message.conversation
        services.message_send(conversation=conversation, sender_type="bot", content="Un agente te atenderá enseguida.")
        services.conversation_assign(conversation=conversation, assignee=agent)
        traveller.shift(timedelta(minutes=30))
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, client_id="a1", content="¡Hola! Son 4,50 € en España.")
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="Cliente habitual, ojo con el descuento", private=True)
        traveller.shift(timedelta(minutes=30))
        services.contact_message_send(contact=contact, conversation_id=conversation.pk, client_id="c2", content="Perfecto, muchas gracias. Adiós")
    conversation.refresh_from_db()
    assert conversation.last_message_at == T0 + timedelta(hours=1)
    return conversation


# --- Auto-close -------------------------------------------------------------------------------


def test_idle_conversation_closes_after_24h_with_one_message_and_one_pdf(chat, django_capture_on_commit_callbacks):
    last = T0 + timedelta(hours=1)
    # A system line later on (snooze/unsnooze, assignment…) is not activity.
    with time_machine.travel(last + timedelta(hours=20), tick=False):
        services.conversation_unassign(conversation=chat)
    chat.refresh_from_db()
    assert chat.last_message_at == last

    with time_machine.travel(last + timedelta(hours=23, minutes=59), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert closing.auto_close() == []
    chat.refresh_from_db()
    assert chat.status != Conversation.Status.CLOSED

    with time_machine.travel(last + timedelta(hours=24), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert closing.auto_close() == [chat.pk]
        assert closing.auto_close() == []
    chat.refresh_from_db()
    assert chat.status == Conversation.Status.CLOSED
    assert chat.close_reason == Conversation.CloseReason.IDLE
    assert chat.closed_at == last + timedelta(hours=24)

    (message,) = closing_messages(chat)
    assert message.content == "This conversation has been closed. Thanks for writing to us!"
    assert message.sender_type == Message.Sender.SYSTEM and not message.payload.get("internal")
    assert chat.transcript.name.endswith(".pdf")
    assert not transcripts.transcript_make(conversation_id=chat.pk), "the PDF is made once"

    text = pdf_text(chat)
    for m in Message.objects.filter(conversation=chat):
        assert re.sub(r"\s+", " ", m.content) in text, m.content
    assert "¿Cuánto cuesta el envío a Logroño?" in text
    assert "Internal note" in text
    assert "Page 1 of 1" in text
    assert "Acme" in text and chat.contact.display_name in text

    (email,) = [m for m in mail.outbox if m.to == [chat.contact.email] and "Your conversation" in m.subject]
    assert "This conversation has been closed" in email.body
    assert "/transcripts/" in email.body
    assert ReportEvent.objects.filter(conversation=chat, kind="closed").count() == 1


def test_silent_customer_is_not_closed_earlier(account, agent, contact):
    with time_machine.travel(T0, tick=False):
        conversation = services.contact_message_send(contact=contact, client_id="c1", content="Hola").message.conversation
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        services.agent_message_send(membership=agent, conversation_id=conversation.pk, content="¿Sigues ahí?")
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        assert closing.auto_close() == []
    with time_machine.travel(T0 + timedelta(hours=26), tick=False):
        assert closing.auto_close() == [conversation.pk]


def test_auto_close_hours_per_campaign_and_zero_means_never(account, contact):
    quick = factories.CampaignFactory(account=account, auto_close_hours=2)
    never = factories.CampaignFactory(account=account, auto_close_hours=0)
    with time_machine.travel(T0, tick=False):
        a = factories.ConversationFactory(account=account, campaign=quick, last_message_at=T0)
        b = factories.ConversationFactory(account=account, campaign=never, last_message_at=T0)
        c = factories.ConversationFactory(account=account, last_message_at=T0)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        assert closing.auto_close() == [a.pk]
    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        assert closing.auto_close() == [c.pk]
    b.refresh_from_db()
    assert b.status == Conversation.Status.QUEUED


def test_snoozed_conversations_wake_and_are_not_closed_while_snoozed(account, agent):
    with time_machine.travel(T0, tick=False):
        conversation = factories.ConversationFactory(account=account, last_message_at=T0)
        services.conversation_assign(conversation=conversation, assignee=agent)
        services.conversation_snooze(conversation=conversation, by=agent, until=T0 + timedelta(days=2))
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert closing.auto_close() == []
        assert closing.snooze_wake() == []
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        assert closing.snooze_wake() == [conversation.pk]
        assert closing.snooze_wake() == []
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ASSIGNED and conversation.snoozed_until is None


# --- Manual close, channels --------------------------------------------------------------------


def test_manual_close_sends_the_campaign_text_to_the_widget(account, agent, contact, capture_events):
    campaign = factories.CampaignFactory(account=account, closing_message="¡Gracias por escribirnos, España!")
    conversation = factories.ConversationFactory(account=account, contact=contact, campaign=campaign)
    services.conversation_assign(conversation=conversation, assignee=agent)
    with capture_events() as ev:
        services.conversation_close(conversation=conversation, by=agent, outcome="resolved")
    conversation.refresh_from_db()
    assert conversation.close_reason == "agent" and conversation.outcome == "resolved"
    (message,) = closing_messages(conversation)
    assert message.content == "¡Gracias por escribirnos, España!"
    assert message.status == Message.Status.SENT
    to_contact = [
        e for e in ev.named("message.created")
        if e["groups"] == [f"contact.{contact.pk}"] and e["data"]["message"]["id"] == message.pk
    ]
    assert len(to_contact) == 1
    internal = Message.objects.get(conversation=conversation, payload__event="closed")
    assert internal.payload["internal"] is True
    assert not [e for e in ev.named("message.created") if e["data"]["message"]["id"] == internal.pk and e["groups"] == [f"contact.{contact.pk}"]]
    assert conversation.transcript
    fact = ReportEvent.objects.get(conversation=conversation, kind="closed")
    assert fact.membership_id == agent.pk and fact.data["outcome"] == "resolved" and fact.data["reason"] == "agent"
    assert ReportEvent.objects.filter(conversation=conversation, kind="assigned").count() == 1


def test_account_closing_text_and_no_email_without_address(account, contact, capture_events):
    Account.objects.filter(pk=account.pk).update(closing_message="Hasta pronto 👋")
    contact.email = ""
    contact.save()
    conversation = factories.ConversationFactory(account=account, contact=contact)
    with capture_events():
        services.conversation_close(conversation=conversation)
    assert closing_messages(conversation)[0].content == "Hasta pronto 👋"
    assert [m for m in mail.outbox if "Your conversation" in m.subject] == []
    conversation.refresh_from_db()
    assert conversation.transcript


def test_whatsapp_close_uses_the_template_outside_24h_and_goes_through_delivery(account, capture_events):
    Account.objects.filter(pk=account.pk).update(whatsapp_closing_template_sid="HX123closing")
    contact = factories.ContactFactory(account=account, phone="+34600000000", email="")
    old = factories.ConversationFactory(
        account=account, contact=contact, channel=Conversation.Channel.WHATSAPP,
        last_contact_message_at=T0 - timedelta(hours=25),
    )
    recent = factories.ConversationFactory(
        account=account, contact=factories.ContactFactory(account=account, email=""),
        channel=Conversation.Channel.WHATSAPP, last_contact_message_at=T0 - timedelta(hours=2),
    )
    with time_machine.travel(T0, tick=False), capture_events():
        services.conversation_close(conversation=old)
        services.conversation_close(conversation=recent)
    (templated,) = closing_messages(old)
    assert templated.payload["content_sid"] == "HX123closing"
    assert templated.status == Message.Status.FAILED and templated.error == delivery.CHANNEL_NOT_CONFIGURED
    (free,) = closing_messages(recent)
    assert "content_sid" not in free.payload


def test_registered_channel_sender_gets_the_closing_message(account, capture_events):
    sent = []

    class FakeSender:
        def send(self, message):
            sent.append(message.pk)
            services.message_status_update(account_id=message.account_id, message_id=message.pk, status="sent")

    delivery.register("sms", FakeSender())
    try:
        conversation = factories.ConversationFactory(account=account, channel=Conversation.Channel.SMS)
        with capture_events():
            services.conversation_close(conversation=conversation)
        (message,) = closing_messages(conversation)
        assert sent == [message.pk]
        assert not delivery.deliver_by_id(message_id=message.pk), "never sent twice"
        message.refresh_from_db()
        assert message.status == Message.Status.SENT
    finally:
        delivery._senders.pop("sms", None)


def test_close_is_idempotent_and_reclose_after_reopen_makes_a_fresh_transcript(account, agent, capture_events):
    conversation = factories.ConversationFactory(account=account)
    with capture_events():
        services.conversation_close(conversation=conversation)
        services.conversation_close(conversation=conversation)
    assert len(closing_messages(conversation)) == 1
    conversation.refresh_from_db()
    first_pdf = conversation.transcript.name
    with capture_events():
        services.conversation_reopen(conversation=conversation)
        services.message_send(conversation=conversation, sender_type="contact", content="Una cosa más")
        services.conversation_close(conversation=conversation)
    conversation.refresh_from_db()
    assert len(closing_messages(conversation)) == 2
    assert conversation.transcript.name != first_pdf
    assert "Una cosa más" in pdf_text(conversation)


def test_reporting_fact_rolls_back_with_the_close(account):
    conversation = factories.ConversationFactory(account=account)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.conversation_close(conversation=conversation)
        raise RuntimeError
    assert not ReportEvent.objects.filter(conversation=conversation).exists()
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.QUEUED


def test_transcript_has_page_numbers_on_every_page(account, contact):
    conversation = factories.ConversationFactory(account=account, contact=contact)
    for i in range(120):
        factories.MessageFactory(account=account, conversation=conversation, content=f"Mensaje número {i} — ñandú")
    pdf = transcripts.render_transcript(
        Conversation.objects.select_related("account", "contact", "site", "campaign").get(pk=conversation.pk)
    )
    reader = PdfReader(io.BytesIO(pdf))
    total = len(reader.pages)
    assert total > 1
    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} of {total}" in page.extract_text()


# --- Downloads --------------------------------------------------------------------------------------


@pytest.mark.urls("tests.conversations.test_closing")
def test_transcript_download_for_agents_and_public_link_without_notes(chat, agent, other_owner, client_for, capture_events):
    with capture_events():
        services.conversation_close(conversation=chat, by=agent)
    response = client_for(agent).get(f"/app/conversations/{chat.pk}/transcript.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF")
    assert "ojo con el descuento" in " ".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)

    assert client_for(other_owner).get(f"/app/conversations/{chat.pk}/transcript.pdf").status_code == 404

    token = transcripts.public_token(chat)
    public = client_for(other_owner).get(f"/transcripts/{token}/")
    assert public.status_code == 200
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(public.content)).pages)
    assert "Perfecto, muchas gracias" in text
    assert "ojo con el descuento" not in text, "private notes never reach the customer"
    assert client_for(other_owner).get(f"/transcripts/{token}x/").status_code == 404


# --- Concurrency ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_auto_closing_at_once_send_one_message_and_one_pdf():
    account = factories.AccountFactory()
    conversations = [factories.ConversationFactory(account=account, last_message_at=T0) for _ in range(3)]
    results, errors = [], []

    def run():
        try:
            results.append(closing.auto_close(now=T0 + timedelta(hours=24, minutes=1)))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(c for r in results for c in r) == sorted(c.pk for c in conversations)
    for conversation in conversations:
        assert len(closing_messages(conversation)) == 1
        conversation.refresh_from_db()
        assert conversation.status == Conversation.Status.CLOSED and conversation.transcript
    assert ReportEvent.objects.filter(kind="closed").count() == 3
    assert len([m for m in mail.outbox if "Your conversation" in m.subject]) == 3
