"""Offline notification: the other side is emailed when it has no live socket,
at most once per conversation per 10 minutes (issue #3, item 5)."""

import pytest
import time_machine

from django.core import mail
from django.utils import timezone

from conversations import services
from core import presence


@pytest.fixture
def assigned(conversation, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_assign(conversation=conversation, assignee=agent)
    mail.outbox.clear()
    return conversation


def send_contact(conversation, text, callbacks):
    with callbacks(execute=True):
        services.message_send(conversation=conversation, sender_type="contact", content=text)


def test_contact_message_emails_offline_assignee_once_per_ten_minutes(assigned, agent, django_capture_on_commit_callbacks, settings):
    send_contact(assigned, "¿Sigue disponible?", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [agent.user.email]
    assert "¿Sigue disponible?" in email.body
    assert f"{settings.PUBLIC_URL}/app/conversations/{assigned.pk}/" in email.body

    send_contact(assigned, "Hola?", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1, "a second email within 10 minutes"

    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=11)):
        # The throttle lives in the cache with a real TTL: clear it as time would.
        from django.core.cache import cache

        cache.delete(f"offline-email:{assigned.pk}:{agent.user.email}")
        send_contact(assigned, "Still there?", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2


def test_assignee_with_live_socket_gets_no_email(assigned, agent, django_capture_on_commit_callbacks):
    presence.connect("member", agent.pk, "test-channel")
    send_contact(assigned, "hola", django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_agent_reply_emails_contact_who_left(assigned, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_message_send(membership=agent, conversation_id=assigned.pk, content="We have it in blue too")
    assert [m.to for m in mail.outbox] == [[assigned.contact.email]]
    assert "We have it in blue too" in mail.outbox[0].body


def test_online_contact_and_private_notes_are_not_emailed(assigned, agent, django_capture_on_commit_callbacks):
    presence.connect("contact", assigned.contact_id, "tab-1")
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_message_send(membership=agent, conversation_id=assigned.pk, content="visible")
    presence.disconnect("contact", assigned.contact_id, "tab-1")
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_message_send(membership=agent, conversation_id=assigned.pk, content="internal", private=True)
    assert mail.outbox == []
