"""Beat really runs: a real ``celery worker --beat`` with the database scheduler
assigns a waiting conversation once an agent comes online — nobody calls the
assigner (the agent's availability is written straight to the table, so no
hook fires)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from accounts.models import Membership
from conversations.models import Conversation
from core import presence
from tests import factories

BASE_DIR = Path(__file__).resolve().parent.parent
#: A Redis database of its own for the broker, so a developer's worker never
#: takes this test's tasks (nor this worker theirs).
BROKER_DB = 13


def _database_url() -> str:
    s = connection.settings_dict
    user = quote(s.get("USER") or "")
    password = quote(s.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or "5432"
    return f"postgres://{auth}{host}:{port}/{s['NAME']}"


def _broker_url() -> str:
    parts = urlsplit(django_settings.REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BROKER_DB}", "", ""))


def _wait_for(predicate, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.mark.django_db(transaction=True)
def test_beat_assigns_waiting_conversation_when_an_agent_comes_online(settings, tmp_path):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from conversations.periodic import PERIODIC_TASKS

    queue = f"beat-test-{uuid.uuid4().hex[:10]}"
    for name, spec in PERIODIC_TASKS.items():
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=spec["every_seconds"], period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.create(
            name=name, task=spec["task"], interval=interval, queue=queue, expire_seconds=spec.get("expire_seconds")
        )

    account = factories.AccountFactory()
    agent = factories.MembershipFactory(account=account, availability=Membership.Availability.OFFLINE, capacity=2)
    conversation = factories.ConversationFactory(account=account)

    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": _broker_url(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CACHE_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "EMAIL_URL": "consolemail://",
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "4",
    }
    celery = str(Path(sys.executable).with_name("celery"))
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [
                celery, "-A", "config", "worker", "--beat",
                # `worker -S` is --statedb; the beat scheduler option is --scheduler.
                "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                "--schedule-filename", str(tmp_path / "celerybeat-schedule"),
                "-Q", queue, "--pool", "solo", "--loglevel", "info",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--hostname", f"{queue}@%h",
            ],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        assert _wait_for(lambda: " ready." in log_path.read_text() or worker.poll() is not None, 60), "worker never got ready"
        assert worker.poll() is None, log_path.read_text()[-4000:]

        # Nobody is online: the sweeps run, the conversation keeps waiting.
        time.sleep(6)
        conversation.refresh_from_db()
        assert conversation.status == Conversation.Status.QUEUED

        # The agent comes online without any hook being called.
        Membership.objects.filter(pk=agent.pk).update(
            availability=Membership.Availability.ONLINE, availability_changed_at=timezone.now()
        )
        presence.connect("member", agent.pk, "test-channel")
        online_at = time.monotonic()

        def assigned() -> bool:
            conversation.refresh_from_db()
            return conversation.status == Conversation.Status.ASSIGNED

        assert _wait_for(assigned, 20), "not assigned within 20 s:\n" + log_path.read_text()[-4000:]
        assert conversation.assignee_id == agent.pk
        assert time.monotonic() - online_at < 20
        assert "conversations.tasks.routing_sweep" in log_path.read_text()
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)
        presence.disconnect("member", agent.pk, "test-channel")
