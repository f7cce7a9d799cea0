"""Reads. Every selector takes the account (or a membership) first; another
tenant's id raises ``NotFound`` exactly like a missing one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from accounts.models import Membership
from core.exceptions import NotFound

from .models import CannedResponse, Contact, Conversation, Message

OPEN_STATUSES = (
    Conversation.Status.BOT,
    Conversation.Status.QUEUED,
    Conversation.Status.ASSIGNED,
    Conversation.Status.SNOOZED,
)


@dataclass(frozen=True)
class Viewer:
    """What a socket needs to decide visibility without touching the database."""

    membership_id: int
    account_id: int
    is_supervisor: bool
    campaign_ids: frozenset[int] = field(default_factory=frozenset)

    def can_see(self, *, account_id: int, assignee_id: int | None, campaign_id: int | None, status: str) -> bool:
        """Mirror of :func:`visible_q` for an event's meta."""
        if account_id != self.account_id:
            return False
        if self.is_supervisor or assignee_id == self.membership_id:
            return True
        if campaign_id is not None:
            return campaign_id in self.campaign_ids
        return assignee_id is None and status in (Conversation.Status.QUEUED, Conversation.Status.BOT)


def viewer_for(membership: Membership) -> Viewer:
    return Viewer(
        membership_id=membership.pk,
        account_id=membership.account_id,
        is_supervisor=membership.is_supervisor,
        campaign_ids=frozenset(membership.campaigns.values_list("id", flat=True)),
    )


def visible_q(viewer: Viewer) -> Q:
    """Conversations this member may see (ARCHITECTURE §5).

    Supervisors and up: everything in the account. Agents: their own, every
    conversation of a campaign they work in, and the unassigned queue of
    conversations that have no campaign.
    """
    if viewer.is_supervisor:
        return Q()
    q = Q(assignee_id=viewer.membership_id) | Q(
        campaign__isnull=True, assignee__isnull=True, status__in=[Conversation.Status.QUEUED, Conversation.Status.BOT]
    )
    if viewer.campaign_ids:
        q |= Q(campaign_id__in=viewer.campaign_ids)
    return q


def conversation_queryset(*, account_id: int) -> QuerySet[Conversation]:
    return Conversation.objects.filter(account_id=account_id).select_related(
        "contact", "assignee__user", "campaign", "site", "account"
    )


def conversation_get(*, account_id: int, conversation_id: int) -> Conversation:
    try:
        return conversation_queryset(account_id=account_id).get(pk=conversation_id)
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such conversation.") from None


def conversation_get_for_member(*, membership: Membership, conversation_id: int, viewer: Viewer | None = None) -> Conversation:
    viewer = viewer or viewer_for(membership)
    try:
        return (
            conversation_queryset(account_id=membership.account_id)
            .filter(visible_q(viewer))
            .get(pk=conversation_id)
        )
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such conversation.") from None


def conversation_get_for_contact(*, contact: Contact, conversation_id: int) -> Conversation:
    try:
        return conversation_queryset(account_id=contact.account_id).get(pk=conversation_id, contact_id=contact.pk)
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such conversation.") from None


def conversation_list(
    *,
    membership: Membership,
    view: str = "mine",
    status: str | None = None,
    site_id: int | None = None,
    channel: str | None = None,
    campaign_id: int | None = None,
    priority: int | None = None,
    search: str | None = None,
    viewer: Viewer | None = None,
) -> QuerySet[Conversation]:
    """The inbox lists. ``view`` is one of queue, mine, open (supervisors), closed, all.

    Queue is waiting for assignment only: not assigned, not closed. Ordered
    for keyset pagination: queue by priority then waiting time, others by
    last activity.
    """
    viewer = viewer or viewer_for(membership)
    qs = conversation_queryset(account_id=membership.account_id).filter(visible_q(viewer))
    if view == "queue":
        qs = qs.filter(status=Conversation.Status.QUEUED, assignee__isnull=True).order_by("-priority", "queued_at", "id")
    elif view == "mine":
        qs = qs.filter(assignee_id=membership.pk, status__in=OPEN_STATUSES).order_by("-last_message_at", "-id")
    elif view == "open":
        qs = qs.filter(status__in=OPEN_STATUSES).order_by("-last_message_at", "-id")
    elif view == "closed":
        qs = qs.filter(status=Conversation.Status.CLOSED).order_by("-closed_at", "-id")
    else:
        qs = qs.order_by("-last_message_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if site_id:
        qs = qs.filter(site_id=site_id)
    if channel:
        qs = qs.filter(channel=channel)
    if campaign_id:
        qs = qs.filter(campaign_id=campaign_id)
    if priority is not None:
        qs = qs.filter(priority=priority)
    if search:
        term = search.strip()
        message_hits = Message.objects.filter(
            account_id=membership.account_id, content__icontains=term
        ).values("conversation_id")
        qs = qs.filter(
            Q(contact__name__icontains=term)
            | Q(contact__email__icontains=term)
            | Q(contact__phone__icontains=term)
            | Q(contact__document_number__icontains=term)
            | Q(pk__in=message_hits)
        )
    return qs


def message_list(
    *,
    conversation: Conversation,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
    include_private: bool = True,
) -> list[Message]:
    """Messages in id order. ``after`` replays what a client missed; ``before``
    pages back through history (the newest ``limit`` before it)."""
    qs = (
        Message.objects.filter(account_id=conversation.account_id, conversation_id=conversation.pk)
        .select_related("sender_membership__user", "conversation__contact")
        .prefetch_related("attachments")
    )
    if not include_private:
        qs = qs.exclude(kind=Message.Kind.NOTE).exclude(kind=Message.Kind.SYSTEM, payload__internal=True)
    if after is not None:
        return list(qs.filter(id__gt=after).order_by("id")[:limit])
    if before is not None:
        qs = qs.filter(id__lt=before)
    return list(reversed(qs.order_by("-id")[:limit]))


def message_read_up_to(*, conversation: Conversation, sender_types: Iterable[str]) -> int | None:
    """Id of the newest message from ``sender_types`` the other side has read
    (read ticks for clients that poll instead of holding a socket)."""
    from django.db.models import Max

    return (
        Message.objects.filter(
            account_id=conversation.account_id,
            conversation_id=conversation.pk,
            sender_type__in=list(sender_types),
            status=Message.Status.READ,
        ).aggregate(up_to=Max("id"))["up_to"]
    )


def unread_count(*, membership: Membership) -> dict[str, int]:
    """Open conversations of this member with unread messages, and the queue size."""
    viewer = viewer_for(membership)
    base = Conversation.objects.filter(account_id=membership.account_id).filter(visible_q(viewer))
    return {
        "conversations": base.filter(assignee_id=membership.pk, status__in=OPEN_STATUSES, unread_agent__gt=0).count(),
        "queue": base.filter(status=Conversation.Status.QUEUED, assignee__isnull=True).count(),
    }


def contact_get(*, account_id: int, contact_id: int) -> Contact:
    try:
        return Contact.objects.get(account_id=account_id, pk=contact_id)
    except (Contact.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such contact.") from None


def canned_response_list(*, membership: Membership) -> QuerySet[CannedResponse]:
    return CannedResponse.objects.filter(account_id=membership.account_id).filter(
        Q(owner__isnull=True) | Q(owner_id=membership.pk)
    )
