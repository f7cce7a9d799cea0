"""Shared fixtures: two tenants (``account`` and ``other_account``) so every
isolation test is one line, members of each role, API and htmx clients, and
``capture_events`` to assert what a service published after commit."""

from __future__ import annotations

import os

import pytest

# The test process builds and drops an event loop (and its hop threads, each
# with database connections) per async test; with the server's tuned
# collector (core.process.tune_gc) those connections outlive the test
# database. Servers keep one loop for their life; tests keep CPython's GC.
os.environ.setdefault("GC_TUNE", "0")

from django.test import Client

from accounts.models import Membership
from tests import factories
from tests.factories import PASSWORD


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """Outside CI, each pytest process gets its own test database, so several
    runs on one machine (or one tree) never fight over ``test_charla``."""
    if os.environ.get("CI"):
        return
    from django.db import connections

    for connection in connections.all():
        test = connection.settings_dict.setdefault("TEST", {})
        base = test.get("NAME") or f"test_{connection.settings_dict['NAME']}"
        test["NAME"] = f"{base}_{os.getpid()}"


@pytest.fixture(scope="session", autouse=True)
def _celery_eager():
    """Tasks run in-process: nothing a test enqueues reaches a real broker
    (where a developer's running worker would pick it up)."""
    from config.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


@pytest.fixture(autouse=True)
def _isolated_cache_and_media(settings, tmp_path):
    """Each test gets its own cache namespace (login throttles, rate limits)
    and its own media folder, and captures email in memory."""
    import copy
    import uuid

    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = caches
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture
def account(db):
    return factories.AccountFactory(name="Acme", slug="acme")


@pytest.fixture
def other_account(db):
    return factories.AccountFactory(name="Globex", slug="globex")


@pytest.fixture
def site(account):
    return factories.SiteFactory(account=account, name="Acme shop")


@pytest.fixture
def other_site(other_account):
    return factories.SiteFactory(account=other_account, name="Globex shop")


def _member(account, role, email=None, **extra):
    kwargs = {"account": account, "role": role, **extra}
    if email:
        kwargs["user"] = factories.UserFactory(email=email, name=email.split("@")[0].title())
    return factories.MembershipFactory(**kwargs)


@pytest.fixture
def owner(account):
    return _member(account, Membership.Role.OWNER, "owner@acme.test")


@pytest.fixture
def admin_member(account):
    return _member(account, Membership.Role.ADMIN, "admin@acme.test")


@pytest.fixture
def supervisor(account):
    return _member(account, Membership.Role.SUPERVISOR, "supervisor@acme.test")


@pytest.fixture
def agent(account):
    return _member(account, Membership.Role.AGENT, "ana@acme.test")


@pytest.fixture
def agent2(account):
    return _member(account, Membership.Role.AGENT, "bruno@acme.test")


@pytest.fixture
def other_owner(other_account):
    return _member(other_account, Membership.Role.OWNER, "owner@globex.test")


@pytest.fixture
def other_agent(other_account):
    return _member(other_account, Membership.Role.AGENT, "agent@globex.test")


@pytest.fixture
def contact(account, site):
    return factories.ContactFactory(account=account, site=site)


@pytest.fixture
def conversation(account, contact):
    return factories.ConversationFactory(account=account, contact=contact)


@pytest.fixture
def other_conversation(other_account, other_site):
    contact = factories.ContactFactory(account=other_account, site=other_site)
    return factories.ConversationFactory(account=other_account, contact=contact)


def login_client(membership) -> Client:
    client = Client()
    assert client.login(email=membership.user.email, password=PASSWORD)
    return client


@pytest.fixture
def client_for():
    """``client_for(membership)`` → a Django test client logged in as that member."""
    return login_client


@pytest.fixture
def htmx_client_for():
    def make(membership) -> Client:
        client = login_client(membership)
        client.defaults["HTTP_HX_REQUEST"] = "true"
        return client

    return make


@pytest.fixture
def api_client_for():
    """``api_client_for(membership)`` → a DRF client with a JWT bearer token."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    def make(membership):
        client = APIClient()
        token = RefreshToken.for_user(membership.user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_CHARLA_ACCOUNT=membership.account.slug)
        return client

    return make


class CapturedEvents(list):
    def named(self, *events: str) -> list[dict]:
        return [e for e in self if e["event"] in events]

    def names(self) -> list[str]:
        return [e["event"] for e in self]


@pytest.fixture
def capture_events(monkeypatch, django_capture_on_commit_callbacks):
    """Record every realtime publish and run on-commit callbacks.

    Usage::

        with capture_events() as events:
            message_send(...)
        assert events.named("message.created")[0]["groups"] == [...]
    """
    from contextlib import contextmanager

    from core import realtime

    @contextmanager
    def capture():
        events = CapturedEvents()

        def fake_send_now(*, groups, event, data, meta=None, others_of=None):
            events.append({"groups": list(groups), "event": event, "data": data, "meta": meta or {},
                           "others_of": others_of})

        monkeypatch.setattr(realtime, "send_now", fake_send_now)
        with django_capture_on_commit_callbacks(execute=True):
            yield events

    return capture
