"""Closing a conversation: one pipeline for manual and automatic close."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Membership
from core.exceptions import PermissionDenied, ValidationError

from .. import events, signals
from ..models import Conversation
from . import routing
from .conversations import _lock, system_line


@transaction.atomic
def conversation_close(
    *,
    conversation: Conversation,
    by: Membership | None = None,
    reason: str = Conversation.CloseReason.AGENT,
    outcome: str | None = None,
) -> Conversation:
    conversation = _lock(conversation)
    if conversation.status == Conversation.Status.CLOSED:
        return conversation
    if by is not None and not by.is_supervisor and conversation.assignee_id not in (None, by.pk):
        raise PermissionDenied(_("Only the assignee or a supervisor can close this conversation."))
    if outcome is not None and outcome not in Conversation.Outcome.values:
        raise ValidationError(_("Unknown outcome."), field="outcome")
    now = timezone.now()
    previous_assignee_id = conversation.assignee_id
    conversation.status = Conversation.Status.CLOSED
    conversation.closed_at = now
    conversation.close_reason = reason
    conversation.snoozed_until = None
    conversation.awaiting_reply_since = None
    if outcome:
        conversation.outcome = outcome
    conversation.save(
        update_fields=["status", "closed_at", "close_reason", "snoozed_until", "awaiting_reply_since", "outcome", "updated_at"]
    )
    with translation.override(conversation.account.locale):
        system_line(conversation, _("Conversation closed"), event="closed", reason=reason)
    events.publish_conversation(conversation, extra_member_ids=[previous_assignee_id])
    account_id, conversation_id = conversation.account_id, conversation.pk

    def after_commit() -> None:
        signals.conversation_closed.send(sender=Conversation, conversation_id=conversation_id, account_id=account_id)
        if previous_assignee_id:
            routing.queue_changed(account_id=account_id)

    transaction.on_commit(after_commit)
    return conversation
