"""Auto-assignment: balance, capacity, campaigns, queue positions, agents going
away, unanswered reassignment, and the concurrency guarantees."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine

from django.db import connection
from django.utils import timezone

from accounts.models import Account, Membership
from conversations import services
from conversations.models import AssignmentLog, Conversation
from conversations.services import routing
from core import presence
from tests import factories

ASSIGNED = Conversation.Status.ASSIGNED
QUEUED = Conversation.Status.QUEUED


@pytest.fixture
def eager_celery():
    from config.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def online(member: Membership, channel: str | None = None) -> Membership:
    """Available and with a live inbox socket."""
    if member.availability != Membership.Availability.ONLINE:
        Membership.objects.filter(pk=member.pk).update(availability=Membership.Availability.ONLINE)
        member.availability = Membership.Availability.ONLINE
    presence.connect("member", member.pk, channel or f"test-channel-{member.pk}")
    return member


def make_agents(account, n, *, capacity=3, role=Membership.Role.AGENT):
    return [online(factories.MembershipFactory(account=account, role=role, capacity=capacity)) for _ in range(n)]


def queue(account, n, *, start=None, campaign=None, **extra):
    start = start or timezone.now() - timedelta(hours=1)
    return [
        factories.ConversationFactory(account=account, queued_at=start + timedelta(seconds=i), campaign=campaign, **extra)
        for i in range(n)
    ]


def loads(members):
    return {
        m.pk: Conversation.objects.filter(assignee=m, status__in=[ASSIGNED, Conversation.Status.SNOOZED]).count()
        for m in members
    }


# --- Balance and capacity -------------------------------------------------------------


def test_assign_waiting_fills_capacity_evenly_and_keeps_order(account, django_capture_on_commit_callbacks):
    agents = make_agents(account, 5, capacity=3)
    conversations = queue(account, 50)

    made = routing.assign_waiting(account_id=account.pk)

    assert len(made) == 15
    assert set(loads(agents).values()) == {3}
    waiting = list(
        Conversation.objects.filter(account=account, status=QUEUED).order_by("-priority", "queued_at", "id")
    )
    assert [c.pk for c in waiting] == [c.pk for c in conversations[15:]], "the first 15 in line were served"
    assert Conversation.objects.filter(account=account, status=ASSIGNED).count() == 15
    assert AssignmentLog.objects.filter(account=account).count() == 15

    # Closing one frees a slot: the next in line is assigned at once (hook on commit).
    done = Conversation.objects.filter(account=account, status=ASSIGNED).first()
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_close(conversation=done, by=done.assignee)
    nxt = waiting[0]
    nxt.refresh_from_db()
    assert nxt.status == ASSIGNED and nxt.assignee_id == done.assignee_id
    assert Conversation.objects.filter(account=account, status=QUEUED).count() == 34


def test_assign_waiting_loads_differ_by_at_most_one(account):
    agents = make_agents(account, 5, capacity=3)
    queue(account, 7)
    routing.assign_waiting(account_id=account.pk)
    values = sorted(loads(agents).values())
    assert values == [1, 1, 1, 2, 2]


def test_assign_waiting_priority_first_then_oldest(account):
    (agent,) = make_agents(account, 1, capacity=2)
    old, newer = queue(account, 2)
    urgent = factories.ConversationFactory(
        account=account, priority=Conversation.Priority.URGENT, queued_at=timezone.now()
    )
    routing.assign_waiting(account_id=account.pk)
    assigned = set(Conversation.objects.filter(assignee=agent).values_list("pk", flat=True))
    assert assigned == {urgent.pk, old.pk}
    newer.refresh_from_db()
    assert newer.status == QUEUED


def test_assign_waiting_counts_existing_load_and_breaks_ties_by_last_assignment(account):
    a, b, c = make_agents(account, 3, capacity=5)
    now = timezone.now()
    Membership.objects.filter(pk=a.pk).update(last_assigned_at=now - timedelta(minutes=1))
    Membership.objects.filter(pk=b.pk).update(last_assigned_at=now - timedelta(minutes=10))
    factories.ConversationFactory(account=account, status=ASSIGNED, assignee=c)
    (conversation,) = queue(account, 1)

    (made,) = routing.assign_waiting(account_id=account.pk)

    assert made.membership_id == b.pk, "a and b have no load; b waited longest since an assignment"
    log = AssignmentLog.objects.get(conversation=conversation)
    assert log.assignee_id == b.pk and log.assigned_by is None
    assert log.reason == "least loaded: 0/5 among 3 eligible"


def test_never_assigned_agent_goes_first(account):
    a, b = make_agents(account, 2)
    Membership.objects.filter(pk=a.pk).update(last_assigned_at=timezone.now() - timedelta(days=3))
    queue(account, 1)
    (made,) = routing.assign_waiting(account_id=account.pk)
    assert made.membership_id == b.pk


def test_only_online_agents_with_a_socket_and_room_are_eligible(account):
    away = factories.MembershipFactory(account=account, availability=Membership.Availability.AWAY)
    presence.connect("member", away.pk, "away-socket")
    no_socket = factories.MembershipFactory(account=account)  # online, but no live socket
    full = online(factories.MembershipFactory(account=account, capacity=1))
    factories.ConversationFactory(account=account, status=ASSIGNED, assignee=full)
    zero = online(factories.MembershipFactory(account=account, capacity=0))
    inactive = online(factories.MembershipFactory(account=account, is_active=False))
    conversations = queue(account, 2)

    assert routing.assign_waiting(account_id=account.pk) == []
    assert all(Conversation.objects.get(pk=c.pk).status == QUEUED for c in conversations)
    for member in (away, no_socket, full, zero, inactive):
        assert not Conversation.objects.filter(pk__in=[c.pk for c in conversations], assignee=member).exists()

    online(no_socket)
    assert len(routing.assign_waiting(account_id=account.pk)) == 2


def test_supervisors_take_chats_only_when_online_with_capacity(account):
    supervisor = online(factories.MembershipFactory(account=account, role=Membership.Role.SUPERVISOR, capacity=0))
    (conversation,) = queue(account, 1)
    assert routing.assign_waiting(account_id=account.pk) == []
    Membership.objects.filter(pk=supervisor.pk).update(capacity=2)
    (made,) = routing.assign_waiting(account_id=account.pk)
    assert made.membership_id == supervisor.pk


def test_assign_waiting_is_per_account(account, other_account):
    make_agents(account, 1)
    (other,) = queue(other_account, 1)
    assert routing.assign_waiting(account_id=account.pk) == []
    assert routing.assign_waiting(account_id=other_account.pk) == []
    other.refresh_from_db()
    assert other.status == QUEUED


# --- Campaigns ---------------------------------------------------------------------------


def test_campaign_conversations_go_only_to_campaign_agents(account):
    a_agent, b_agent = make_agents(account, 2, capacity=5)
    campaign_a = factories.CampaignFactory(account=account, name="A")
    campaign_b = factories.CampaignFactory(account=account, name="B")
    campaign_a.agents.add(a_agent)
    campaign_b.agents.add(b_agent)
    conv_a = queue(account, 3, campaign=campaign_a)
    conv_b = queue(account, 3, campaign=campaign_b)

    routing.assign_waiting(account_id=account.pk)

    assert set(Conversation.objects.filter(assignee=a_agent).values_list("campaign_id", flat=True)) == {campaign_a.pk}
    assert set(Conversation.objects.filter(assignee=b_agent).values_list("campaign_id", flat=True)) == {campaign_b.pk}
    assert all(Conversation.objects.get(pk=c.pk).status == ASSIGNED for c in conv_a + conv_b)


def test_campaign_conversation_waits_when_its_agents_are_away(account):
    (a_agent,) = make_agents(account, 1, capacity=5)
    b_agent = factories.MembershipFactory(account=account, availability=Membership.Availability.OFFLINE)
    campaign_a = factories.CampaignFactory(account=account, name="A")
    campaign_b = factories.CampaignFactory(account=account, name="B")
    campaign_a.agents.add(a_agent)
    campaign_b.agents.add(b_agent)
    (waiting_b,) = queue(account, 1, campaign=campaign_b)
    (plain,) = queue(account, 1, start=timezone.now())

    made = routing.assign_waiting(account_id=account.pk)

    assert [(m.conversation_id, m.membership_id) for m in made] == [(plain.pk, a_agent.pk)]
    waiting_b.refresh_from_db()
    assert waiting_b.status == QUEUED and waiting_b.assignee_id is None


def test_prefer_last_agent_of_the_contact(account, contact):
    ana, bruno = make_agents(account, 2, capacity=5)
    factories.ConversationFactory(account=account, contact=contact, status=Conversation.Status.CLOSED, assignee=bruno)
    Membership.objects.filter(pk=ana.pk).update(last_assigned_at=None)
    Membership.objects.filter(pk=bruno.pk).update(last_assigned_at=timezone.now())
    conversation = factories.ConversationFactory(account=account, contact=contact)

    (made,) = routing.assign_waiting(account_id=account.pk)

    assert made.membership_id == bruno.pk
    assert "last agent of this contact" in AssignmentLog.objects.get(conversation=conversation).reason

    Account.objects.filter(pk=account.pk).update(prefer_last_agent=False)
    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.CLOSED)
    factories.ConversationFactory(account=account, contact=contact)
    (made,) = routing.assign_waiting(account_id=account.pk)
    assert made.membership_id == ana.pk


# --- Hooks and queue positions -------------------------------------------------------------


def test_new_conversation_is_assigned_on_commit(account, contact, capture_events):
    (agent,) = make_agents(account, 1)
    with capture_events():
        result = services.contact_message_send(contact=contact, client_id="c1", content="Hola")
    conversation = Conversation.objects.get(pk=result.message.conversation_id)
    assert conversation.status == ASSIGNED and conversation.assignee_id == agent.pk


def test_agent_connecting_or_coming_online_takes_the_queue(account, capture_events):
    agent = factories.MembershipFactory(account=account, availability=Membership.Availability.OFFLINE)
    (conversation,) = queue(account, 1)
    with capture_events():
        services.member_set_availability(membership=agent, availability=Membership.Availability.ONLINE)
    conversation.refresh_from_db()
    assert conversation.status == QUEUED, "online but no socket yet"
    with capture_events():
        services.member_connection_opened(membership=agent, channel_name="sock-1")
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.pk


def test_queue_position_published_to_waiting_visitors_when_it_changes(account, capture_events):
    (agent,) = make_agents(account, 1, capacity=1)
    first, second, third = queue(account, 3)

    with capture_events() as events:
        routing.assign_waiting(account_id=account.pk)
    contact_updates = {
        e["data"]["conversation"]["id"]: e["data"]["conversation"]["queue_position"]
        for e in events.named("conversation.updated")
        if e["meta"].get("audience") == "contact" and "queue_position" in e["data"]["conversation"]
    }
    assert contact_updates == {second.pk: 1, third.pk: 2}
    frame = next(e for e in events.named("conversation.updated") if e["data"]["conversation"].get("queue_position") == 1)
    assert frame["groups"] == [f"contact.{second.contact_id}"]
    assert "html" not in frame["data"]
    assert routing.queue_position_for(Conversation.objects.get(pk=third.pk)) == 2

    with capture_events() as events:
        routing.assign_waiting(account_id=account.pk)
    assert not [e for e in events.named("conversation.updated") if e["data"]["conversation"].get("queue_position")]


def test_hooks_never_raise(account, monkeypatch, django_capture_on_commit_callbacks):
    def boom(**kwargs):
        raise RuntimeError("redis down")

    monkeypatch.setattr(routing, "assign_waiting", boom)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        routing.queue_changed(account_id=account.pk)
    assert len(callbacks) == 1, "inside a transaction the hook waits for the commit"


# --- Agents going away ----------------------------------------------------------------------


def test_agent_going_offline_sends_conversations_back_and_they_are_rerouted(
    account, capture_events, eager_celery
):
    Account.objects.filter(pk=account.pk).update(offline_grace_seconds=0)
    ana = online(factories.MembershipFactory(account=account, capacity=5, user=factories.UserFactory(name="Ana")))
    conversations = queue(account, 2)
    routing.assign_waiting(account_id=account.pk)
    assert all(Conversation.objects.get(pk=c.pk).assignee_id == ana.pk for c in conversations)
    bruno = online(factories.MembershipFactory(account=account, capacity=5))

    with capture_events():
        services.member_set_availability(membership=ana, availability=Membership.Availability.OFFLINE)

    for conversation in conversations:
        conversation.refresh_from_db()
        assert conversation.assignee_id == bruno.pk
        reasons = list(AssignmentLog.objects.filter(conversation=conversation).order_by("created_at", "id").values_list("reason", flat=True))
        assert reasons[1] == "Ana went offline (Offline): back to the queue"
        assert reasons[2].startswith("least loaded:")


def test_agent_going_offline_keeps_conversations_when_account_says_keep(account, capture_events, eager_celery):
    Account.objects.filter(pk=account.pk).update(offline_grace_seconds=0, offline_reassign=Account.OfflineReassign.KEEP)
    ana = make_agents(account, 1)[0]
    (conversation,) = queue(account, 1)
    routing.assign_waiting(account_id=account.pk)
    with capture_events():
        services.member_set_availability(membership=ana, availability=Membership.Availability.AWAY)
    conversation.refresh_from_db()
    assert conversation.assignee_id == ana.pk and conversation.status == ASSIGNED


def test_offline_check_waits_for_the_grace(account, monkeypatch, django_capture_on_commit_callbacks):
    scheduled = []
    from conversations import tasks

    monkeypatch.setattr(
        tasks.member_offline_check_task, "apply_async", lambda args, countdown: scheduled.append((args, countdown))
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        ana = make_agents(account, 1)[0]
        (conversation,) = queue(account, 1)
        routing.assign_waiting(account_id=account.pk)
        with django_capture_on_commit_callbacks(execute=True):
            services.member_set_availability(membership=ana, availability=Membership.Availability.AWAY)
        assert scheduled == [((ana.pk,), 120)]

        traveller.shift(timedelta(seconds=119))
        assert routing.member_offline_check(membership_id=ana.pk) == []
        traveller.shift(timedelta(seconds=1))
        assert routing.member_offline_check(membership_id=ana.pk) == [conversation.pk]
        assert routing.member_offline_check(membership_id=ana.pk) == [], "idempotent"
    conversation.refresh_from_db()
    assert conversation.status == QUEUED and conversation.assignee_id is None


def test_agent_back_before_the_grace_keeps_conversations(account):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        ana = make_agents(account, 1)[0]
        (conversation,) = queue(account, 1)
        routing.assign_waiting(account_id=account.pk)
        services.member_set_availability(membership=ana, availability=Membership.Availability.AWAY)
        traveller.shift(timedelta(seconds=30))
        services.member_set_availability(membership=ana, availability=Membership.Availability.ONLINE)
        online(ana)
        traveller.shift(timedelta(seconds=60))
        assert routing.member_offline_check(membership_id=ana.pk) == []
    conversation.refresh_from_db()
    assert conversation.assignee_id == ana.pk


def test_last_socket_closing_requeues_after_the_grace(account, monkeypatch, django_capture_on_commit_callbacks):
    scheduled = []
    from conversations import tasks

    monkeypatch.setattr(
        tasks.member_offline_check_task, "apply_async", lambda args, countdown: scheduled.append((args, countdown))
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        ana = make_agents(account, 1)[0]
        (conversation,) = queue(account, 1)
        routing.assign_waiting(account_id=account.pk)
        presence.disconnect("member", ana.pk, f"test-channel-{ana.pk}")
        with django_capture_on_commit_callbacks(execute=True):
            assert services.member_presence_settle(membership=ana) is True
        assert scheduled == [((ana.pk,), 120)]
        traveller.shift(timedelta(seconds=60))
        assert routing.member_offline_check(membership_id=ana.pk) == []
        traveller.shift(timedelta(seconds=60))
        assert routing.member_offline_check(membership_id=ana.pk) == [conversation.pk]
    log = AssignmentLog.objects.filter(conversation=conversation).order_by("-created_at", "-id").first()
    assert log.assignee_id is None and "disconnected" in log.reason


def test_offline_sweep_catches_sockets_that_died_silently(account):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        ana = make_agents(account, 1)[0]
        (conversation,) = queue(account, 1)
        routing.assign_waiting(account_id=account.pk)
        traveller.shift(timedelta(seconds=100))  # the socket stopped refreshing: stale
        assert routing.offline_sweep() == [], "first seen gone now; the grace starts"
        traveller.shift(timedelta(seconds=119))
        assert routing.offline_sweep() == []
        traveller.shift(timedelta(seconds=1))
        assert routing.offline_sweep() == [conversation.pk]
        assert routing.offline_sweep() == []
    conversation.refresh_from_db()
    assert conversation.status == QUEUED
    assert ana.pk not in set(Conversation.objects.filter(status=ASSIGNED).values_list("assignee_id", flat=True))


def test_unreplied_conversation_moves_to_another_agent(account):
    Account.objects.filter(pk=account.pk).update(reassign_unreplied_minutes=10)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        ana = make_agents(account, 1, capacity=5)[0]
        contact = factories.ContactFactory(account=account)
        result = services.contact_message_send(contact=contact, client_id="x", content="¿Hola?")
        conversation = result.message.conversation
        routing.assign_waiting(account_id=account.pk)
        conversation.refresh_from_db()
        assert conversation.assignee_id == ana.pk
        traveller.shift(timedelta(minutes=11))
        assert routing.reassign_unreplied() == [], "nobody else can take it: it stays"
        bruno = make_agents(account, 1, capacity=5)[0]
        (moved,) = routing.reassign_unreplied()
        assert moved.membership_id == bruno.pk
        assert routing.reassign_unreplied() == [], "the clock restarts for the new agent"
    conversation.refresh_from_db()
    assert conversation.assignee_id == bruno.pk
    reasons = list(AssignmentLog.objects.filter(conversation=conversation).order_by("created_at", "id").values_list("reason", flat=True))
    assert any("did not reply within 10 min" in r for r in reasons)


def test_only_supervisors_reassign_by_hand(account, agent, agent2, supervisor, conversation):
    services.conversation_assign(conversation=conversation, assignee=agent)
    from core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.conversation_assign(conversation=conversation, assignee=agent2, by=agent2)
    services.conversation_assign(conversation=conversation, assignee=agent2, by=supervisor)
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent2.pk


# --- Concurrency (real transactions, one connection per thread) --------------------------------


def _in_thread(fn, results, errors):
    def run():
        try:
            results.append(fn())
        except Exception as exc:  # pragma: no cover - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    return threading.Thread(target=run)


@pytest.mark.django_db(transaction=True)
def test_concurrent_assigners_never_exceed_capacity_nor_double_assign():
    account = factories.AccountFactory()
    agents = make_agents(account, 5, capacity=3)
    conversations = queue(account, 50)
    results, errors = [], []
    threads = [_in_thread(lambda: routing.assign_waiting(account_id=account.pk), results, errors) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert not errors
    made = [a for batch in results for a in batch]
    assert len(made) == 15
    assert len({a.conversation_id for a in made}) == 15
    assert set(loads(agents).values()) == {3}
    per_conversation = AssignmentLog.objects.filter(conversation__in=conversations).values_list("conversation_id", flat=True)
    assert len(per_conversation) == len(set(per_conversation)) == 15


@pytest.mark.django_db(transaction=True)
def test_concurrent_arrivals_and_assigners_fill_every_slot():
    """Conversations arriving while assigners run: all slots end up used, no
    agent above capacity (each arrival runs the hook like the services do)."""
    account = factories.AccountFactory()
    agents = make_agents(account, 4, capacity=2)
    errors, results = [], []

    def arrive():
        factories.ConversationFactory(account=account, queued_at=timezone.now())
        return routing.assign_waiting(account_id=account.pk)

    threads = [_in_thread(arrive, results, errors) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(loads(agents).values()) == [2, 2, 2, 2]
    assert Conversation.objects.filter(account=account, status=QUEUED).count() == 4


@pytest.mark.django_db(transaction=True)
def test_no_lost_wakeup_when_the_assigner_is_busy(monkeypatch):
    account = factories.AccountFactory()
    (agent,) = make_agents(account, 1, capacity=5)
    inside, release = threading.Event(), threading.Event()
    original = routing._assign_batch

    def slow_batch(account_id):
        made = original(account_id)
        if threading.current_thread().name == "holder" and not inside.is_set():
            inside.set()
            release.wait(10)
        return made

    monkeypatch.setattr(routing, "_assign_batch", slow_batch)
    results, errors = [], []
    holder = _in_thread(lambda: routing.assign_waiting(account_id=account.pk), results, errors)
    holder.name = "holder"
    holder.start()
    assert inside.wait(10)

    # A conversation arrives and its hook runs while the holder has the lock.
    (late,) = queue(account, 1)
    assert routing.assign_waiting(account_id=account.pk) == []
    late.refresh_from_db()
    assert late.status == QUEUED

    release.set()
    holder.join(30)
    assert not errors
    late.refresh_from_db()
    assert late.status == ASSIGNED and late.assignee_id == agent.pk
