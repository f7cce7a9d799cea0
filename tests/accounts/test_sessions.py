"""AgentSession rows follow logins and logouts (user_logged_in / user_logged_out)."""

from datetime import timedelta

import pytest

from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AgentSession
from core import tenancy
from tests import factories
from tests.factories import PASSWORD


def _login(client, email, **extra):
    response = client.post(reverse("accounts:login"), {"email": email, "password": PASSWORD}, **extra)
    assert response.status_code == 302
    return response


@pytest.mark.django_db
def test_login_writes_agent_session_and_logout_closes_it(owner):
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (Charla test)")
    _login(client, "owner@acme.test", REMOTE_ADDR="203.0.113.7")

    row = AgentSession.objects.get(user=owner.user)
    assert row.account == owner.account
    assert row.ip == "203.0.113.7"
    assert row.user_agent == "Mozilla/5.0 (Charla test)"
    assert row.session_key == client.session.session_key
    assert row.ended_at is None

    client.post(reverse("accounts:logout"))
    row.refresh_from_db()
    assert row.ended_at is not None
    assert row.end_reason == AgentSession.EndReason.LOGOUT


@pytest.mark.django_db
def test_agent_session_account_is_the_current_account(owner, other_account):
    factories.MembershipFactory(account=other_account, user=owner.user)
    client = Client()
    session = client.session
    session[tenancy.SESSION_KEY] = other_account.pk
    session.save()
    client.cookies["sessionid"] = session.session_key
    _login(client, "owner@acme.test")
    assert AgentSession.objects.get(user=owner.user).account == other_account


@pytest.mark.django_db
def test_switching_account_ends_the_row_and_starts_one_for_the_new_account(owner, other_account):
    factories.MembershipFactory(account=other_account, user=owner.user)
    client = Client()
    _login(client, "owner@acme.test")
    first = AgentSession.objects.get(user=owner.user)
    assert first.account == owner.account

    client.post(reverse("accounts:switch_account", kwargs={"account_id": other_account.pk}))
    first.refresh_from_db()
    assert first.ended_at is not None and first.end_reason == AgentSession.EndReason.SWITCHED
    current = AgentSession.objects.get(user=owner.user, ended_at__isnull=True)
    assert current.account == other_account and current.session_key == first.session_key
    # Switching to the account one is in already changes nothing; logout closes the current row.
    client.post(reverse("accounts:switch_account", kwargs={"account_id": other_account.pk}))
    assert AgentSession.objects.filter(user=owner.user).count() == 2
    client.post(reverse("accounts:logout"))
    current.refresh_from_db()
    assert current.end_reason == AgentSession.EndReason.LOGOUT


@pytest.mark.django_db
def test_expired_sessions_are_closed_at_next_login(owner, settings):
    first = Client()
    _login(first, "owner@acme.test")
    old = AgentSession.objects.get(user=owner.user)
    # Another device that is still logged in must stay open.
    second = Client()
    _login(second, "owner@acme.test")
    live = AgentSession.objects.filter(user=owner.user).exclude(pk=old.pk).get()
    # The first session expires (nothing runs at that moment).
    AgentSession.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=2))
    Session.objects.filter(session_key=old.session_key).update(expire_date=timezone.now() - timedelta(hours=1))

    _login(Client(), "owner@acme.test")

    old.refresh_from_db()
    live.refresh_from_db()
    assert old.end_reason == AgentSession.EndReason.EXPIRED
    assert old.ended_at == old.started_at + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert live.ended_at is None
    assert AgentSession.objects.filter(user=owner.user, ended_at__isnull=True).count() == 2
