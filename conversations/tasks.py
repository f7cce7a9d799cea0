"""Celery tasks: take ids, call one service.

The periodic ones (``conversations.periodic.PERIODIC_TASKS``) are idempotent:
running one twice, or on two workers at once, never sends a second alert,
closing message or transcript (see each service for how).
"""

from celery import shared_task


@shared_task(ignore_result=True)
def message_notify_offline_task(message_id: int) -> None:
    from .services.notifications import message_notify_offline

    message_notify_offline(message_id=message_id)


# --- Routing ------------------------------------------------------------------------


@shared_task(ignore_result=True)
def routing_sweep() -> int:
    """Safety net: run the assigner for every account with waiting conversations."""
    from .models import Conversation
    from .services.routing import assign_waiting

    account_ids = (
        Conversation.objects.filter(status=Conversation.Status.QUEUED, assignee__isnull=True)
        .values_list("account_id", flat=True)
        .distinct()
    )
    made = 0
    for account_id in list(account_ids):
        made += len(assign_waiting(account_id=account_id))
    return made


@shared_task(ignore_result=True)
def routing_reassign() -> int:
    """Agents gone for longer than the grace lose their conversations (per the
    account's setting); unanswered conversations move on when configured."""
    from .services.routing import offline_sweep, reassign_unreplied

    return len(offline_sweep()) + len(reassign_unreplied())


@shared_task(ignore_result=True)
def member_offline_check_task(membership_id: int) -> None:
    from .services.routing import member_offline_check

    member_offline_check(membership_id=membership_id)


# --- SLA, auto-close, snooze -----------------------------------------------------------


@shared_task(ignore_result=True)
def sla_check() -> int:
    from .services.sla import sla_check as check

    return len(check())


@shared_task(ignore_result=True)
def auto_close() -> int:
    from .services.closing import auto_close as close_idle
    from .services.transcripts import transcripts_repair

    closed = close_idle()
    transcripts_repair()
    return len(closed)


@shared_task(ignore_result=True)
def snooze_wake() -> int:
    from .services.closing import snooze_wake as wake

    return len(wake())


# --- Closing follow-ups ------------------------------------------------------------------


@shared_task(ignore_result=True)
def conversation_transcript_task(conversation_id: int) -> None:
    from .services.transcripts import transcript_make

    transcript_make(conversation_id=conversation_id)


@shared_task(ignore_result=True)
def message_deliver_task(message_id: int) -> None:
    from .services.delivery import deliver_by_id

    deliver_by_id(message_id=message_id)
