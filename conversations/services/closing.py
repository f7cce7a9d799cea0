"""Closing a conversation: one pipeline for manual and automatic close.

``conversation_close`` (agent, API, widget or the ``auto_close`` beat job):

1. locks the row; a closed conversation is left alone (idempotent);
2. writes an internal system line saying who/why, and the customer's closing
   message (campaign text, else account text, else the default in the
   account's language) — a system message visible to the contact. On web it
   reaches the widget over the socket; on WhatsApp/SMS it is stored as
   ``sending`` and handed to ``delivery.deliver`` on commit (outside
   WhatsApp's 24-hour window its payload carries the approved template's
   ``content_sid``);
3. records the close reason and outcome, and the ``closed`` reporting fact in
   the same transaction;
4. on commit: the PDF transcript task (which then emails the customer the
   link), the channel delivery, the ``conversation_closed`` signal, and the
   router (the agent has a free slot).

``auto_close`` closes conversations with no message from either side for the
campaign's or account's ``auto_close_hours``, measured from
``last_message_at`` — which only real messages move (system lines and the
closing message don't), so a customer who is merely silent is never closed
earlier. ``snooze_wake`` reopens snoozed conversations whose time came.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import Membership
from core.exceptions import PermissionDenied, ValidationError

from .. import events, facts, signals
from ..models import Conversation, Message
from . import delivery, routing
from .conversations import _lock, conversation_reopen, system_line

logger = logging.getLogger(__name__)

DEFAULT_CLOSING_TEXT = gettext_noop("This conversation has been closed. Thanks for writing to us!")
#: Open statuses the idle timer applies to. Snoozed conversations wait for their
#: own time (``snooze_wake``) and are never closed while snoozed.
IDLE_STATUSES = (Conversation.Status.BOT, Conversation.Status.QUEUED, Conversation.Status.ASSIGNED)
BATCH = 500


def closing_text(conversation: Conversation) -> str:
    campaign = conversation.campaign
    if campaign is not None and campaign.closing_message.strip():
        return campaign.closing_message.strip()
    if conversation.account.closing_message.strip():
        return conversation.account.closing_message.strip()
    with translation.override(conversation.account.locale):
        return _(DEFAULT_CLOSING_TEXT)


def _closing_message(conversation: Conversation, now: datetime) -> Message:
    """The customer-facing closing message. Like system lines it does not move
    ``last_message_at``."""
    payload: dict = {"event": "closing"}
    needs_channel = delivery.needs_channel(conversation)
    if conversation.channel == Conversation.Channel.WHATSAPP:
        last = conversation.last_contact_message_at
        if last is None or now - last > timedelta(hours=delivery.WHATSAPP_WINDOW_HOURS):
            payload["template"] = "closing"
            payload["content_sid"] = conversation.account.whatsapp_closing_template_sid
    message = Message.objects.create(
        account_id=conversation.account_id,
        conversation=conversation,
        sender_type=Message.Sender.SYSTEM,
        kind=Message.Kind.SYSTEM,
        content=closing_text(conversation),
        payload=payload,
        status=Message.Status.SENDING if needs_channel else Message.Status.SENT,
        sent_at=None if needs_channel else now,
    )
    Conversation.objects.filter(pk=conversation.pk).update(message_count=F("message_count") + 1)
    conversation.message_count += 1
    events.publish_message(message)
    return message


def _close_line(conversation: Conversation, by: Membership | None, reason: str) -> str:
    if reason == Conversation.CloseReason.IDLE:
        return _("Closed after %(hours)d hours without activity") % {"hours": idle_hours(conversation)}
    if by is not None:
        return _("Closed by %(name)s") % {"name": by.user.display_name}
    if reason == Conversation.CloseReason.CONTACT:
        return _("Closed by the customer")
    return _("Conversation closed")


@transaction.atomic
def conversation_close(
    *,
    conversation: Conversation,
    by: Membership | None = None,
    reason: str = Conversation.CloseReason.AGENT,
    outcome: str | None = None,
) -> Conversation:
    conversation = _lock(conversation)
    before = events.audience_of(conversation)
    if conversation.status == Conversation.Status.CLOSED:
        return conversation
    if by is not None and not by.is_supervisor and conversation.assignee_id not in (None, by.pk):
        raise PermissionDenied(_("Only the assignee or a supervisor can close this conversation."))
    if outcome is not None and outcome not in Conversation.Outcome.values:
        raise ValidationError(_("Unknown outcome."), field="outcome")
    if reason not in Conversation.CloseReason.values:
        raise ValidationError(_("Unknown close reason."), field="reason")
    now = timezone.now()
    previous_assignee_id = conversation.assignee_id
    old_transcript = conversation.transcript.name if conversation.transcript else ""
    with translation.override(conversation.account.locale):
        system_line(conversation, _close_line(conversation, by, reason), internal=True, event="closed", reason=reason)
    closing = _closing_message(conversation, now)
    conversation.status = Conversation.Status.CLOSED
    conversation.closed_at = now
    conversation.close_reason = reason
    conversation.snoozed_until = None
    conversation.awaiting_reply_since = None
    conversation.transcript = ""  # a reopened-and-closed conversation gets a fresh transcript
    if outcome:
        conversation.outcome = outcome
    conversation.save(
        update_fields=[
            "status", "closed_at", "close_reason", "snoozed_until", "awaiting_reply_since", "outcome", "transcript",
            "updated_at",
        ]
    )
    facts.record(
        facts.CLOSED,
        conversation=conversation,
        membership_id=previous_assignee_id,
        value=(now - conversation.created_at).total_seconds(),
        at=now,
        reason=reason,
        outcome=conversation.outcome,
        closed_by_id=by.pk if by else None,
        channel=conversation.channel,
    )
    events.publish_conversation(conversation, extra_member_ids=[previous_assignee_id], before=before)
    account_id, conversation_id, closing_id = conversation.account_id, conversation.pk, closing.pk
    needs_channel = delivery.needs_channel(conversation)

    def after_commit() -> None:
        from ..tasks import conversation_transcript_task, message_deliver_task

        for name, run in (
            ("transcript", lambda: conversation_transcript_task.delay(conversation_id)),
            ("delivery", lambda: message_deliver_task.delay(closing_id) if needs_channel else None),
            ("old transcript", lambda: _delete_file(old_transcript)),
        ):
            try:
                run()
            except Exception:  # the close is committed; beat's transcripts_repair catches up
                logger.exception("after-close step failed", extra={"step": name, "conversation_id": conversation_id})
        signals.conversation_closed.send(sender=Conversation, conversation_id=conversation_id, account_id=account_id)
        if previous_assignee_id:
            routing.queue_changed(account_id=account_id)

    transaction.on_commit(after_commit)
    return conversation


def _delete_file(name: str) -> None:
    if name:
        Conversation._meta.get_field("transcript").storage.delete(name)


# --- Auto-close and snooze wake (beat) ----------------------------------------------------


def idle_hours(conversation: Conversation) -> int:
    campaign = conversation.campaign
    if campaign is not None and campaign.auto_close_hours is not None:
        return campaign.auto_close_hours
    return conversation.account.auto_close_hours


def _idle_candidates(now: datetime):
    hours = Coalesce(F("campaign__auto_close_hours"), F("account__auto_close_hours"))
    idle_at = ExpressionWrapper(
        Coalesce(F("last_message_at"), F("created_at")) + hours * Value(timedelta(hours=1), output_field=DurationField()),
        output_field=DateTimeField(),
    )
    return (
        Conversation.objects.filter(status__in=IDLE_STATUSES)
        .alias(idle_hours=hours, idle_at=idle_at)
        .filter(idle_hours__gt=0, idle_at__lte=now)
        .order_by("last_message_at", "id")
    )


def conversation_close_if_idle(*, conversation_id: int, now: datetime | None = None) -> bool:
    """Close one conversation for inactivity, re-checking under the row lock (a
    message may have arrived since the beat job's query)."""
    now = now or timezone.now()
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("account", "campaign")
            .filter(pk=conversation_id, status__in=IDLE_STATUSES)
            .first()
        )
        if conversation is None:
            return False
        hours = idle_hours(conversation)
        last = conversation.last_message_at or conversation.created_at
        if not hours or last + timedelta(hours=hours) > now:
            return False
        conversation_close(conversation=conversation, by=None, reason=Conversation.CloseReason.IDLE)
    return True


def auto_close(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    closed = []
    for conversation_id in _idle_candidates(now).values_list("id", flat=True)[:BATCH]:
        try:
            if conversation_close_if_idle(conversation_id=conversation_id, now=now):
                closed.append(conversation_id)
        except Exception:
            logger.exception("auto-close failed", extra={"conversation_id": conversation_id})
    return closed


def snooze_wake(*, now: datetime | None = None) -> list[int]:
    """Reopen snoozed conversations whose ``snoozed_until`` has passed."""
    now = now or timezone.now()
    ids = list(
        Conversation.objects.filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
        .order_by("snoozed_until", "id")
        .values_list("id", flat=True)[:BATCH]
    )
    woken = []
    for conversation_id in ids:
        try:
            with transaction.atomic():
                conversation = (
                    Conversation.objects.select_for_update(of=("self",))
                    .filter(pk=conversation_id, status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
                    .first()
                )
                if conversation is None:
                    continue
                conversation_reopen(conversation=conversation, by=None)
            woken.append(conversation_id)
        except Exception:
            logger.exception("snooze wake failed", extra={"conversation_id": conversation_id})
    return woken
