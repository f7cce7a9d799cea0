"""Operations contract (ARCHITECTURE §2): health, readiness, metrics, and the
idempotent set-up commands that `make run` and every deploy run."""

from io import StringIO

import pytest

from django.core.management import call_command

from accounts.models import Membership, Site, User


def run(command: str) -> str:
    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_readyz_all_dependencies_ok(client, db):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok", "broker": "ok"}


def test_readyz_names_redis_when_it_is_down(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6390/0"  # nothing listens there

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["redis"].startswith("down")
    assert body["database"] == "ok"
    assert body["broker"] == "ok"


def test_healthz_answers_without_dependencies(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6390/0"

    assert client.get("/healthz").status_code == 200


def test_metrics_is_prometheus_text_with_websocket_gauge(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "# TYPE charla_websocket_connections gauge" in text


@pytest.fixture
def fast_hashing(settings):
    """seed_demo hashes five passwords per run; the production hasher is slow by design."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _demo_counts():
    return {
        "members": Membership.objects.filter(account__slug="demo").count(),
        "users": User.objects.filter(email__endswith="@demo.test").count(),
        "sites": Site.objects.filter(account__slug="demo").count(),
    }


def test_seed_demo_is_idempotent(db, fast_hashing):
    run("seed_demo")
    first = _demo_counts()
    run("seed_demo")

    assert _demo_counts() == first == {"members": 5, "users": 5, "sites": 1}


def test_seed_demo_team_site_and_logins(db, fast_hashing):
    from campaigns.models import Campaign
    from conversations.models import CannedResponse

    run("seed_demo")

    site = Site.objects.get(app_id="demo")
    assert site.name == "Demo Motors"
    assert site.account.slug == "demo"
    assert site.allowed_domains == ["localhost", "127.0.0.1"]
    assert site.timezone == "Europe/Madrid"
    assert site.business_hours["mon"] == [["09:00", "18:00"]]
    assert site.business_hours["sat"] == [["10:00", "14:00"]]
    assert "sun" not in site.business_hours
    roles = dict(Membership.objects.filter(account=site.account).values_list("user__email", "role"))
    assert roles == {
        "owner@demo.test": "owner",
        "supervisor@demo.test": "supervisor",
        "agent1@demo.test": "agent",
        "agent2@demo.test": "agent",
        "admin@demo.test": "admin",
    }
    agents = Membership.objects.filter(account=site.account, role="agent")
    assert {(m.availability, m.capacity) for m in agents} == {("online", 5)}
    assert User.objects.get(email="agent1@demo.test").check_password("demo12345")
    admin = User.objects.get(email="admin@demo.test")
    assert admin.is_superuser and admin.is_staff
    assert Campaign.objects.filter(account=site.account, name="Sales").count() == 1
    shortcuts = set(CannedResponse.objects.filter(account=site.account).values_list("shortcut", flat=True))
    assert shortcuts == {"hello", "thanks", "hours"}


def test_seed_demo_restores_a_changed_password(db, fast_hashing):
    run("seed_demo")
    user = User.objects.get(email="owner@demo.test")
    user.set_password("something-else-42")
    user.save()

    run("seed_demo")

    user.refresh_from_db()
    assert user.check_password("demo12345")


@pytest.fixture
def periodic_registry(monkeypatch):
    from core.management.commands import setup_periodic_tasks

    registry = {"charla.ops-test": {"task": "core.tasks.ops_test", "every_seconds": 30}}
    monkeypatch.setattr(setup_periodic_tasks, "collect_registry", lambda: registry)
    return registry


def test_setup_periodic_tasks_collects_every_apps_schedule(db):
    from django_celery_beat.models import PeriodicTask

    run("setup_periodic_tasks")

    names = set(PeriodicTask.objects.filter(name__startswith="charla.").values_list("name", flat=True))
    assert {"charla.routing_sweep", "charla.sla_check", "charla.auto_close"} <= names


def test_setup_periodic_tasks_is_idempotent(db, periodic_registry):
    from django_celery_beat.models import PeriodicTask

    run("setup_periodic_tasks")
    run("setup_periodic_tasks")

    task = PeriodicTask.objects.get(name="charla.ops-test")
    assert PeriodicTask.objects.filter(name__startswith="charla.").count() == 1
    assert task.task == "core.tasks.ops_test"
    assert task.interval.every == 30 and task.interval.period == "seconds"
    assert task.enabled


def test_setup_periodic_tasks_updates_and_prunes_only_its_own(db, periodic_registry):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    hourly = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(name="hand-made", task="x.y", interval=hourly)
    PeriodicTask.objects.create(name="charla.retired", task="x.retired", interval=hourly)
    run("setup_periodic_tasks")

    periodic_registry["charla.ops-test"]["every_seconds"] = 60
    run("setup_periodic_tasks")

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert "charla.retired" not in names
    assert {"hand-made", "charla.ops-test"} <= names
    assert PeriodicTask.objects.get(name="charla.ops-test").interval.every == 60


def test_setup_periodic_tasks_rejects_names_it_would_not_own(db, monkeypatch):
    from django.core.management.base import CommandError

    from core.management.commands import setup_periodic_tasks

    monkeypatch.setattr(setup_periodic_tasks, "PERIODIC_TASKS", {"sweep": {"task": "a.b", "every_seconds": 5}})

    with pytest.raises(CommandError):
        call_command("setup_periodic_tasks")
