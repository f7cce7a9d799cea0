"""Celery tasks: take ids, call one service."""

from celery import shared_task


@shared_task(ignore_result=True)
def message_notify_offline_task(message_id: int) -> None:
    from .services.notifications import message_notify_offline

    message_notify_offline(message_id=message_id)
