"""Write Charla's Celery beat schedule into django-celery-beat's tables.

The schedule lives in the database (beat runs with the DatabaseScheduler), and
this command is the one place that writes it. It is idempotent and runs on
every `make run` / `make test` and on each deploy:

* every entry of :data:`PERIODIC_TASKS` becomes a ``PeriodicTask`` row with an
  interval schedule (created, or updated when the entry changed);
* rows whose name starts with ``charla.`` but are no longer in the registry
  are deleted, so removing an entry here removes the job;
* rows with any other name (made by hand in /admin/) are left alone.

To add a job, add an entry to ``PERIODIC_TASKS`` in the app's ``periodic.py``
(collected through the app registry, so ``core`` imports no domain app; the
task is named by its dotted path)::

    "charla.routing-sweep": {"task": "conversations.tasks.routing_sweep", "every_seconds": 30},

Optional keys: ``kwargs`` (a JSON-able dict passed to the task), ``queue``,
``expire_seconds`` (drop a run not picked up in time), ``enabled`` (default True).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

PREFIX = "charla."

#: name -> {"task": dotted path, "every_seconds": N, ...}. Names start with PREFIX.
#: Core's own jobs; each installed app adds its own in ``<app>/periodic.py``.
PERIODIC_TASKS: dict[str, dict] = {}


def collect_registry() -> dict[str, dict]:
    """Core's entries plus every installed app's ``periodic.PERIODIC_TASKS``.

    Apps are found through the app registry (no static import), so core
    stays at the bottom of the layers."""
    import importlib
    import importlib.util

    from django.apps import apps

    registry = dict(PERIODIC_TASKS)
    for config in apps.get_app_configs():
        module_name = f"{config.name}.periodic"
        if importlib.util.find_spec(module_name) is None:
            continue
        for name, spec in getattr(importlib.import_module(module_name), "PERIODIC_TASKS", {}).items():
            if name in registry:
                raise CommandError(f"Periodic task {name!r} is defined twice.")
            registry[name] = spec
    return registry


def _validate(registry: dict[str, dict]) -> None:
    for name, spec in registry.items():
        if not name.startswith(PREFIX):
            raise CommandError(f"Periodic task {name!r} must be named '{PREFIX}…'.")
        if not spec.get("task") or int(spec.get("every_seconds", 0)) <= 0:
            raise CommandError(f"Periodic task {name!r} needs 'task' and a positive 'every_seconds'.")


class Command(BaseCommand):
    help = "Create, update and prune Charla's Celery beat schedule (PeriodicTask rows named 'charla.*')."

    @transaction.atomic
    def handle(self, *args, **options):
        from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

        registry = collect_registry()
        _validate(registry)
        created = updated = 0
        for name, spec in registry.items():
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=int(spec["every_seconds"]), period=IntervalSchedule.SECONDS
            )
            expire = spec.get("expire_seconds")
            wanted = {
                "task": spec["task"],
                "interval": interval,
                "crontab": None,
                "solar": None,
                "clocked": None,
                "kwargs": json.dumps(spec.get("kwargs", {}), sort_keys=True),
                "queue": spec.get("queue"),
                "expire_seconds": int(expire) if expire else None,
                "enabled": spec.get("enabled", True),
                "one_off": False,
            }
            task = PeriodicTask.objects.filter(name=name).first()
            if task is None:
                PeriodicTask.objects.create(name=name, **wanted)
                created += 1
            elif any(getattr(task, field) != value for field, value in wanted.items()):
                for field, value in wanted.items():
                    setattr(task, field, value)
                task.save()
                updated += 1

        stale = PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(name__in=list(registry))
        removed = stale.count()
        if removed:
            stale.delete()
        if created or updated or removed:
            PeriodicTasks.update_changed()
        self.stdout.write(
            f"Periodic tasks: {len(registry)} registered ({created} created, {updated} updated, {removed} removed)."
        )
