"""Conversation lifecycle: start, assign, fields, snooze, reopen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Membership, Site
from core.exceptions import PermissionDenied, ValidationError

from .. import events, facts, signals
from ..models import AssignmentLog, Contact, Conversation, Message
from . import routing

CONTEXT_KEYS = ("title", "url", "image_url", "price", "ref")


def clean_context(context: Any) -> dict[str, str]:
    """A product card: title (required), url, image_url, price, ref — strings."""
    if not context:
        return {}
    if not isinstance(context, dict):
        raise ValidationError(_("context must be an object."), field="context")
    card = {key: str(context[key])[:500] for key in CONTEXT_KEYS if context.get(key) not in (None, "")}
    if "image" in context and "image_url" not in card:
        card["image_url"] = str(context["image"])[:500]
    if not card.get("title"):
        raise ValidationError(_("A context card needs a title."), field="context")
    for key in ("url", "image_url"):
        if key in card and not card[key].startswith(("http://", "https://", "/")):
            raise ValidationError(_("Card links must be http(s) URLs."), field="context")
    return card


def system_line(conversation: Conversation, text: str, *, internal: bool = False, **payload: Any) -> Message:
    """A system message, written in the account's language."""
    message = Message.objects.create(
        account_id=conversation.account_id,
        conversation=conversation,
        sender_type=Message.Sender.SYSTEM,
        kind=Message.Kind.SYSTEM,
        content=text,
        payload={**payload, "internal": internal} if internal else payload,
    )
    Conversation.objects.filter(pk=conversation.pk).update(message_count=conversation.message_count + 1)
    conversation.message_count += 1
    events.publish_message(message)
    return message


def _lock(conversation: Conversation) -> Conversation:
    locked = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("account", "contact", "assignee__user", "campaign", "site")
        .get(pk=conversation.pk, account_id=conversation.account_id)
    )
    return locked


@transaction.atomic
def conversation_start(
    *,
    contact: Contact,
    site: Site | None = None,
    channel: str = Conversation.Channel.WEB,
    context: dict | None = None,
    campaign_id: int | None = None,
    status: str = Conversation.Status.QUEUED,
    route: bool = True,
) -> Conversation:
    """A new conversation of ``contact``, published after commit
    (``conversation.created``); a queued one is then routed (auto-assigned).
    ``route=False``: the caller calls :func:`conversation_route_on_commit`
    itself, once it has published what else the transaction does to the
    conversation — routing runs right after the commit, and its assignment
    must not go out before events that carry the conversation as queued."""
    now = timezone.now()
    site = site or contact.site
    if campaign_id is None and site is not None:
        campaign_id = site.default_campaign_id
    conversation = Conversation.objects.create(
        account_id=contact.account_id,
        site=site,
        channel=channel,
        contact=contact,
        campaign_id=campaign_id,
        status=status,
        context=clean_context(context),
        queued_at=now if status == Conversation.Status.QUEUED else None,
        last_message_at=now,
    )
    conversation = Conversation.objects.select_related("contact", "assignee__user", "campaign", "site").get(pk=conversation.pk)
    events.publish_conversation(conversation, event="conversation.created")
    if status == Conversation.Status.QUEUED and route:
        conversation_route_on_commit(conversation)
    return conversation


def conversation_route_on_commit(conversation: Conversation) -> None:
    """Route the account's queue once the current transaction commits, after
    the events it published so far (on-commit callbacks run in order)."""
    account_id = conversation.account_id
    transaction.on_commit(lambda: routing.queue_changed(account_id=account_id))


def _check_can_assign(*, by: Membership | None, conversation: Conversation, assignee: Membership | None) -> None:
    if by is None or by.is_supervisor:
        return
    taking_from_queue = conversation.assignee_id is None and assignee is not None and assignee.pk == by.pk
    if not taking_from_queue:
        raise PermissionDenied(_("Only supervisors can reassign conversations."))


@transaction.atomic
def conversation_assign(
    *,
    conversation: Conversation,
    assignee: Membership,
    by: Membership | None = None,
    reason: str = "",
) -> Conversation:
    """Give the conversation to ``assignee``. ``by`` None means the system."""
    conversation = _lock(conversation)
    before = events.audience_of(conversation)
    if assignee.account_id != conversation.account_id or not assignee.is_active:
        raise ValidationError(_("That agent is not in this account."), field="assignee")
    if conversation.status == Conversation.Status.CLOSED:
        raise ValidationError(_("This conversation is closed."), code="closed")
    _check_can_assign(by=by, conversation=conversation, assignee=assignee)
    previous_id = conversation.assignee_id
    if previous_id == assignee.pk and conversation.status == Conversation.Status.ASSIGNED:
        return conversation
    now = timezone.now()
    conversation.assignee = assignee
    conversation.status = Conversation.Status.ASSIGNED
    conversation.assigned_at = now
    conversation.snoozed_until = None
    conversation.save(update_fields=["assignee", "status", "assigned_at", "snoozed_until", "updated_at"])
    Membership.objects.filter(pk=assignee.pk).update(last_assigned_at=now)
    AssignmentLog.objects.create(
        account_id=conversation.account_id,
        conversation=conversation,
        assignee=assignee,
        previous_assignee_id=previous_id,
        assigned_by=by,
        reason=reason or (_("assigned by %(name)s") % {"name": by.user.display_name} if by else _("assigned by the system")),
    )
    facts.record(
        facts.ASSIGNED, conversation=conversation, membership_id=assignee.pk, at=now,
        value=(now - conversation.queued_at).total_seconds() if conversation.queued_at and not previous_id else None,
        previous_assignee_id=previous_id, by_id=by.pk if by else None,
    )
    with translation.override(conversation.account.locale):
        system_line(
            conversation,
            _("%(name)s joined the conversation") % {"name": assignee.user.display_name},
            event="assigned",
            assignee_id=assignee.pk,
        )
    events.publish_conversation(conversation, extra_member_ids=[previous_id, assignee.pk], before=before)
    account_id, conversation_id, assignee_id = conversation.account_id, conversation.pk, assignee.pk

    def after_commit() -> None:
        signals.conversation_assigned.send(
            sender=Conversation, conversation_id=conversation_id, account_id=account_id, assignee_id=assignee_id
        )
        if previous_id:
            routing.queue_changed(account_id=account_id)

    transaction.on_commit(after_commit)
    return conversation


@transaction.atomic
def conversation_unassign(*, conversation: Conversation, by: Membership | None = None, reason: str = "") -> Conversation:
    """Send the conversation back to the queue (it keeps its place in line)."""
    conversation = _lock(conversation)
    before = events.audience_of(conversation)
    if by is not None and not by.is_supervisor and conversation.assignee_id != by.pk:
        raise PermissionDenied(_("Only supervisors can reassign conversations."))
    if conversation.status == Conversation.Status.CLOSED or conversation.assignee_id is None:
        return conversation
    previous_id = conversation.assignee_id
    conversation.assignee = None
    conversation.status = Conversation.Status.QUEUED
    conversation.queued_at = conversation.queued_at or timezone.now()
    conversation.save(update_fields=["assignee", "status", "queued_at", "updated_at"])
    AssignmentLog.objects.create(
        account_id=conversation.account_id,
        conversation=conversation,
        assignee=None,
        previous_assignee_id=previous_id,
        assigned_by=by,
        reason=reason or _("returned to the queue"),
    )
    facts.record(facts.UNASSIGNED, conversation=conversation, membership_id=previous_id, by_id=by.pk if by else None)
    system_line(conversation, _("Returned to the queue"), internal=True, event="unassigned")
    events.publish_conversation(conversation, extra_member_ids=[previous_id], before=before)
    account_id = conversation.account_id
    transaction.on_commit(lambda: routing.queue_changed(account_id=account_id))
    return conversation


@transaction.atomic
def conversation_update_fields(*, conversation: Conversation, by: Membership | None = None, **fields: Any) -> Conversation:
    """Priority, lead quality, outcome, campaign, context."""
    conversation = _lock(conversation)
    before = events.audience_of(conversation)
    changed: list[str] = []
    if "priority" in fields and fields["priority"] is not None:
        try:
            priority = int(fields["priority"])
        except (TypeError, ValueError):
            priority = -1
        if priority not in Conversation.Priority.values:
            raise ValidationError(_("Unknown priority."), field="priority")
        conversation.priority = priority
        changed.append("priority")
    for name, choices in (("lead_quality", Conversation.LeadQuality), ("outcome", Conversation.Outcome)):
        if name in fields and fields[name] is not None:
            if fields[name] not in choices.values:
                raise ValidationError(_("Unknown value for %(field)s.") % {"field": name}, field=name)
            setattr(conversation, name, fields[name])
            changed.append(name)
    if "campaign_id" in fields:
        campaign_id = fields["campaign_id"] or None
        if campaign_id is not None:
            from django.apps import apps

            campaign_model = apps.get_model("campaigns", "Campaign")
            if not campaign_model.objects.filter(pk=campaign_id, account_id=conversation.account_id).exists():
                raise ValidationError(_("No such campaign."), field="campaign_id")
        if by is not None and not by.is_supervisor:
            raise PermissionDenied(_("Only supervisors can move a conversation to another campaign."))
        conversation.campaign_id = campaign_id
        changed.append("campaign")
    if "context" in fields and fields["context"] is not None:
        conversation.context = clean_context(fields["context"])
        changed.append("context")
    if changed:
        conversation.save(update_fields=[*changed, "updated_at"])
        conversation = Conversation.objects.select_related("contact", "assignee__user", "campaign", "site").get(pk=conversation.pk)
        events.publish_conversation(conversation, before=before)
    return conversation


@transaction.atomic
def conversation_snooze(*, conversation: Conversation, by: Membership | None, until: datetime) -> Conversation:
    conversation = _lock(conversation)
    before = events.audience_of(conversation)
    if conversation.status == Conversation.Status.CLOSED:
        raise ValidationError(_("This conversation is closed."), code="closed")
    if until <= timezone.now():
        raise ValidationError(_("Snooze until a time in the future."), field="until")
    conversation.status = Conversation.Status.SNOOZED
    conversation.snoozed_until = until
    conversation.save(update_fields=["status", "snoozed_until", "updated_at"])
    system_line(conversation, _("Snoozed until %(when)s") % {"when": until.strftime("%Y-%m-%d %H:%M UTC")}, internal=True, event="snoozed")
    events.publish_conversation(conversation, before=before)
    return conversation


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, by: Membership | None = None) -> Conversation:
    """Wake a snoozed conversation, or reopen a closed one."""
    conversation = _lock(conversation)
    before = events.audience_of(conversation)
    if conversation.status not in (Conversation.Status.SNOOZED, Conversation.Status.CLOSED):
        return conversation
    now = timezone.now()
    was_closed = conversation.status == Conversation.Status.CLOSED
    if conversation.assignee_id and conversation.assignee.is_active:
        conversation.status = Conversation.Status.ASSIGNED
    else:
        conversation.assignee = None
        conversation.status = Conversation.Status.QUEUED
        conversation.queued_at = now
    conversation.snoozed_until = None
    if was_closed:
        conversation.closed_at = None
        conversation.close_reason = ""
    conversation.save(update_fields=["status", "assignee", "queued_at", "snoozed_until", "closed_at", "close_reason", "updated_at"])
    system_line(conversation, _("Conversation reopened"), internal=True, event="reopened")
    events.publish_conversation(conversation, before=before)
    if conversation.status == Conversation.Status.QUEUED:
        account_id = conversation.account_id
        transaction.on_commit(lambda: routing.queue_changed(account_id=account_id))
    return conversation
