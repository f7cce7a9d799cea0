"""The Celery app. Periodic jobs live in the database (django-celery-beat);
`core.management.commands.setup_periodic_tasks` writes the schedule."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("charla")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
