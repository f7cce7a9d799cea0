"""The unanswered SLA: warning at 80 %, breach at 100 %, once per episode."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from django.core import mail
from django.db import connection

from accounts.models import Account, Membership
from conversations import events, services
from conversations.models import Conversation, Notification
from conversations.services import sla
from reports.models import ReportEvent
from tests import factories

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def waiting(account, agent, supervisor, contact):
    """At T0 the customer writes; Ana (agent) has the conversation."""
    with time_machine.travel(T0, tick=False):
        result = services.contact_message_send(contact=contact, client_id="c1", content="¿Hay alguien?")
        conversation = result.message.conversation
        services.conversation_assign(conversation=conversation, assignee=agent)
    return conversation


def test_breach_exactly_once_at_30_minutes(waiting, agent, supervisor, capture_events):
    with time_machine.travel(T0 + timedelta(minutes=29, seconds=59), tick=False), capture_events() as ev:
        sla.sla_check()
    assert not ev.named("sla.breached")
    assert not Notification.objects.filter(kind="sla.breached").exists()
    assert not [m for m in mail.outbox if "SLA" in m.subject]

    with time_machine.travel(T0 + timedelta(minutes=30), tick=False), capture_events() as ev:
        alerts = sla.sla_check()
        again = sla.sla_check()
    assert [a.kind for a in alerts] == ["sla.breached"] and again == []
    (frame,) = ev.named("sla.breached")
    assert frame["data"]["conversation_id"] == waiting.pk
    assert frame["data"]["kind"] == "unanswered"
    assert frame["data"]["due_at"] == "2026-03-02T10:30:00Z"
    assert set(frame["groups"]) == {f"member.{agent.pk}", f"member.{supervisor.pk}"}
    assert not ev.named("sla.warning"), "a late check sends the breach, never both"
    rows = Notification.objects.filter(kind="sla.breached", conversation=waiting)
    assert sorted(rows.values_list("membership_id", flat=True)) == sorted([agent.pk, supervisor.pk])
    (email,) = [m for m in mail.outbox if "SLA" in m.subject]
    assert email.to == [supervisor.user.email]
    assert f"/app/conversations/{waiting.pk}/" in email.body
    waiting.refresh_from_db()
    assert waiting.sla_breached_at == T0 + timedelta(minutes=30)
    assert ReportEvent.objects.filter(kind="sla_breached", conversation=waiting).count() == 1


def test_warning_at_80_percent_once_then_breach(waiting, agent, capture_events):
    with time_machine.travel(T0 + timedelta(minutes=23, seconds=59), tick=False), capture_events() as ev:
        assert sla.sla_check() == []
    with time_machine.travel(T0 + timedelta(minutes=24), tick=False), capture_events() as ev:
        (alert,) = sla.sla_check()
        assert sla.sla_check() == []
    assert alert.kind == "sla.warning"
    (frame,) = ev.named("sla.warning")
    assert frame["data"] == {
        "conversation_id": waiting.pk, "kind": "unanswered", "due_at": "2026-03-02T10:30:00Z",
        "text": frame["data"]["text"],
    }
    assert Notification.objects.filter(kind="sla.warning", membership=agent).count() == 1
    assert not [m for m in mail.outbox if "SLA" in m.subject], "warnings are not emailed"
    with time_machine.travel(T0 + timedelta(minutes=27), tick=False), capture_events() as ev:
        assert sla.sla_check() == []
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False), capture_events() as ev:
        (alert,) = sla.sla_check()
    assert alert.kind == "sla.breached"
    assert Notification.objects.filter(kind="sla.warning").count() == 2  # agent + supervisor, once


def test_agent_reply_ends_the_episode_and_a_new_one_can_alert(waiting, agent, capture_events):
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False), capture_events():
        assert len(sla.sla_check()) == 1
        services.agent_message_send(membership=agent, conversation_id=waiting.pk, content="Sí, dime", client_id="a1")
    waiting.refresh_from_db()
    assert waiting.awaiting_reply_since is None and waiting.sla_breached_at is None
    t1 = T0 + timedelta(hours=2)
    with time_machine.travel(t1, tick=False), capture_events():
        services.contact_message_send(contact=waiting.contact, conversation_id=waiting.pk, client_id="c2", content="Otra duda")
        assert sla.sla_check() == []
    with time_machine.travel(t1 + timedelta(minutes=30), tick=False), capture_events() as ev:
        (alert,) = sla.sla_check()
    assert alert.kind == "sla.breached"
    assert len(ev.named("sla.breached")) == 1
    assert Notification.objects.filter(kind="sla.breached", membership=agent).count() == 2


def test_bot_replies_and_private_notes_do_not_stop_the_clock(waiting, agent, capture_events):
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.message_send(conversation=waiting, sender_type="bot", content="Un agente te atenderá pronto")
        services.agent_message_send(membership=agent, conversation_id=waiting.pk, content="nota", private=True)
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False), capture_events() as ev:
        sla.sla_check()
    assert len(ev.named("sla.breached")) == 1


def test_waiting_queue_alerts_supervisors(account, supervisor, contact, capture_events):
    with time_machine.travel(T0, tick=False):
        services.contact_message_send(contact=contact, client_id="c1", content="Hola")
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False), capture_events() as ev:
        sla.sla_check()
    (frame,) = ev.named("sla.breached")
    assert frame["groups"] == [f"member.{supervisor.pk}"]


def test_campaign_target_overrides_and_zero_turns_it_off(account, supervisor, contact, capture_events):
    fast = factories.CampaignFactory(account=account, sla_unanswered_minutes=5)
    off = factories.CampaignFactory(account=account, sla_unanswered_minutes=0)
    other = factories.ContactFactory(account=account)
    with time_machine.travel(T0, tick=False):
        first = services.contact_message_send(contact=contact, client_id="c1", content="Hola").message.conversation
        second = services.contact_message_send(contact=other, client_id="c2", content="Hola").message.conversation
    Conversation.objects.filter(pk=first.pk).update(campaign=fast)
    Conversation.objects.filter(pk=second.pk).update(campaign=off)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False), capture_events():
        alerts = sla.sla_check()
    assert [(a.conversation_id, a.kind) for a in alerts] == [(first.pk, "sla.breached")]
    with time_machine.travel(T0 + timedelta(hours=5), tick=False), capture_events():
        assert sla.sla_check() == []


def test_closed_and_bot_conversations_never_alert(account, supervisor, contact, capture_events):
    with time_machine.travel(T0, tick=False):
        conversation = services.contact_message_send(contact=contact, client_id="c1", content="Hola").message.conversation
    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.BOT)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False), capture_events():
        assert sla.sla_check() == []


def test_business_hours_clock(account, supervisor, capture_events):
    Account.objects.filter(pk=account.pk).update(sla_business_hours_only=True)
    hours = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    site = factories.SiteFactory(account=account, timezone="Europe/Madrid", business_hours=hours)
    contact = factories.ContactFactory(account=account, site=site)
    friday = datetime(2026, 3, 6, 15, 50, tzinfo=UTC)  # 16:50 in Madrid: 10 open minutes left
    with time_machine.travel(friday, tick=False):
        conversation = services.contact_message_send(contact=contact, client_id="c1", content="Hola").message.conversation
        conversation = Conversation.objects.select_related("account", "campaign", "site").get(pk=conversation.pk)
        monday_due = datetime(2026, 3, 9, 8, 20, tzinfo=UTC)  # 09:20 Madrid
        assert sla.due_at(conversation) == monday_due
        assert events.conversation_data(conversation)["sla_due_at"] == "2026-03-09T08:20:00Z"
    with time_machine.travel(datetime(2026, 3, 8, 12, 0, tzinfo=UTC), tick=False), capture_events():
        assert [a.kind for a in sla.sla_check()] == [], "the weekend does not count"
    with time_machine.travel(monday_due - timedelta(seconds=1), tick=False), capture_events():
        assert [a.kind for a in sla.sla_check()] == ["sla.warning"]
    with time_machine.travel(monday_due, tick=False), capture_events():
        assert [a.kind for a in sla.sla_check()] == ["sla.breached"]


def test_business_seconds_skip_holidays():
    site = factories.SiteFactory.build(
        timezone="UTC", business_hours={"mon": [["09:00", "10:00"]], "tue": [["09:00", "10:00"]]},
        holidays=[date(2026, 3, 2)],
    )
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert sla.business_seconds(site, start, start + timedelta(days=1, hours=2)) == 3600
    assert sla.business_add(site, start, 1800) == datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def test_agent_payload_has_sla_due_at(waiting):
    conversation = Conversation.objects.select_related("account", "campaign", "site", "contact", "assignee__user").get(pk=waiting.pk)
    assert events.conversation_data(conversation)["sla_due_at"] == "2026-03-02T10:30:00Z"


@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_send_one_alert():
    account = factories.AccountFactory()
    supervisor = factories.MembershipFactory(account=account, role=Membership.Role.SUPERVISOR)
    contact = factories.ContactFactory(account=account)
    with time_machine.travel(T0, tick=False):
        services.contact_message_send(contact=contact, client_id="c1", content="Hola")
    results, errors = [], []

    def run():
        try:
            results.append(sla.sla_check(now=T0 + timedelta(minutes=45)))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sum(len(r) for r in results) == 1
    assert Notification.objects.filter(membership=supervisor, kind="sla.breached").count() == 1
    assert len([m for m in mail.outbox if "SLA" in m.subject]) == 1
