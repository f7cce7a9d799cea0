"""Reads. Every selector takes the account (or a membership) first; another
tenant's id raises ``NotFound`` exactly like a missing one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import Account, Membership
from core.exceptions import NotFound

from .models import Attachment, CannedResponse, Contact, Conversation, Message

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


def conversation_open_for_contact(*, contact: Contact) -> Conversation | None:
    """The visitor's open conversation (the newest not closed), or None."""
    return (
        Conversation.objects.filter(account_id=contact.account_id, contact=contact)
        .exclude(status=Conversation.Status.CLOSED)
        .order_by("-created_at")
        .first()
    )


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
    qs = conversation_queryset(account_id=membership.account_id)
    if view != "mine":
        # A member always sees their own conversations (``visible_q`` starts
        # with them): Mine needs no visibility test, so it counts and pages
        # on ``conv_mine_idx`` alone instead of reading each row's campaign.
        qs = qs.filter(visible_q(viewer))
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
        qs = search_filter(qs, account_id=membership.account_id, term=search)
    return qs


def search_filter(qs: QuerySet[Conversation], *, account_id: int, term: str) -> QuerySet[Conversation]:
    """Contact name, email, phone, document number, or the text of one of
    the conversation's messages (case-insensitive substring).

    Tested conversation by conversation: its contact, and an ``EXISTS`` on
    its own messages (``message_conv_idx``), so a search inside Mine reads
    only Mine's messages. Cheap when the list is short or the term common (the
    first page fills early); for a rare term on a long list see
    :func:`conversation_search_ids`.
    """
    term = term.strip()
    if not term:
        return qs
    in_messages = Message.objects.filter(
        account_id=account_id,
        conversation_id=OuterRef("pk"),
        # Redundant next to the equality, and deliberately so: a correlated
        # test other than "=" keeps PostgreSQL from turning the EXISTS into
        # a hashed scan of every matching message of the account, which it
        # prefers once ``message_content_trgm`` exists and which costs half a
        # second for a common word.
        conversation_id__gte=OuterRef("pk"),
        content__icontains=term,
    )
    return qs.filter(
        Q(contact__name__icontains=term)
        | Q(contact__email__icontains=term)
        | Q(contact__phone__icontains=term)
        | Q(contact__document_number__icontains=term)
        | Exists(in_messages)
    )


def search_filter_indexed(qs: QuerySet[Conversation], *, account_id: int, term: str) -> QuerySet[Conversation]:
    """The same conversations as :func:`search_filter`, found the other way
    round: the matching contacts and messages first, through the trigram
    indexes (``contact_search_trgm``, ``message_content_trgm``), then the list's
    conversations among them. Fast for a rare term, slow for a common one
    (every matching message of the account is read)."""
    term = term.strip()
    if not term:
        return qs
    contacts = Contact.objects.filter(account_id=account_id).filter(
        Q(name__icontains=term) | Q(email__icontains=term) | Q(phone__icontains=term) | Q(document_number__icontains=term)
    )
    messages = Message.objects.filter(account_id=account_id, content__icontains=term)
    return qs.filter(Q(contact_id__in=contacts.values("pk")) | Q(pk__in=messages.values("conversation_id")))


SEARCH_WINDOW = 1000


def conversation_search_ids(qs: QuerySet[Conversation], *, account_id: int, term: str, limit: int) -> list[int]:
    """The ids of the first ``limit`` conversations of ``qs`` (in its order)
    that match ``term``, without reading the whole list or every match.

    First the list's first ``SEARCH_WINDOW`` conversations are tested one by
    one (:func:`search_filter`): a common term fills the page there. Only when
    it does not, and the list is longer than that, is the search run from the
    other end (:func:`search_filter_indexed`): a term that rare has few
    matches to read. PostgreSQL cannot make this choice itself: it has no
    estimate of how many messages contain a substring.
    """
    head = list(qs.values_list("pk", flat=True)[: SEARCH_WINDOW + 1])
    longer = len(head) > SEARCH_WINDOW
    # A short list is searched whole, in its order, stopping at the page's end.
    window = qs.filter(pk__in=head[:SEARCH_WINDOW]) if longer else qs
    ids = list(search_filter(window, account_id=account_id, term=term).values_list("pk", flat=True)[:limit])
    if len(ids) >= limit or not longer:
        return ids
    return list(search_filter_indexed(qs, account_id=account_id, term=term).values_list("pk", flat=True)[:limit])


# --- The inbox's lists, thread and counts -------------------------------------------------
#
# The agent inbox renders 30 rows and 30 messages per page on tenants with
# millions of rows: these read only what the row and message fragments show
# (``conversations/live/*.html``), with no join the fragment does not need.

ROW_FIELDS = (
    "id", "account_id", "contact_id", "site_id", "campaign_id", "assignee_id", "status", "channel", "priority",
    "unread_agent", "queued_at", "last_message_at", "closed_at", "awaiting_reply_since", "last_message_preview",
    "contact__id", "contact__name", "contact__email", "contact__phone", "contact__is_online",
    "campaign__id", "campaign__name",
    "assignee__id", "assignee__user__id", "assignee__user__name", "assignee__user__email",
)


def conversation_rows(*, account_id: int, ids: list[int]) -> list[Conversation]:
    """The list rows for ``ids``, in that order (ids of another tenant are skipped).

    One query; only the columns ``live/conversation_row.html`` shows (a row
    never touches site, account or the JSON context).
    """
    if not ids:
        return []
    by_id = (
        Conversation.objects.filter(account_id=account_id)
        .select_related("contact", "campaign", "assignee__user")
        .only(*ROW_FIELDS)
        .in_bulk(ids)
    )
    return [by_id[pk] for pk in ids if pk in by_id]


THREAD_FIELDS = (
    "id", "account_id", "conversation_id", "sender_type", "sender_membership_id", "kind", "content", "payload",
    "status", "client_id", "created_at",
    "sender_membership__id", "sender_membership__user__id", "sender_membership__user__name",
    "sender_membership__user__email",
)
ATTACHMENT_FIELDS = ("id", "account_id", "message_id", "file", "name", "content_type", "size", "thumbnail")


def message_thread(
    *, conversation: Conversation, before: int | None = None, after: int | None = None, limit: int = 30
) -> list[Message]:
    """The inbox's page of a thread: the same messages as :func:`message_list`
    (private notes included, id order, ``before`` / ``after`` alike) for
    ``live/message.html``.

    Each message points at ``conversation`` (already loaded with its
    contact) instead of joining the conversation and contact again per
    message, and only the columns the fragment shows are read.
    """
    qs = (
        Message.objects.filter(account_id=conversation.account_id, conversation_id=conversation.pk)
        .select_related("sender_membership__user")
        .only(*THREAD_FIELDS)
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.only(*ATTACHMENT_FIELDS).order_by("id")))
    )
    if after is not None:
        messages = list(qs.filter(id__gt=after).order_by("id")[:limit])
    else:
        if before is not None:
            qs = qs.filter(id__lt=before)
        messages = list(reversed(qs.order_by("-id")[:limit]))
    for message in messages:
        Message.conversation.field.set_cached_value(message, conversation)
    return messages


def _count(qs: QuerySet[Conversation]) -> Coalesce:
    grouped = qs.order_by().values("account_id").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(grouped, output_field=IntegerField()), Value(0))


def inbox_counts(*, viewer: Viewer) -> dict[str, int]:
    """Queue, Mine, unread in Mine and (supervisors) All open, in one query.

    Each count is its own subquery so each walks its own index (the queue's,
    the member's) instead of one scan over every open conversation.
    """
    everything = Conversation.objects.filter(account_id=viewer.account_id)
    base = everything.filter(visible_q(viewer))
    # Mine is always visible to its member: no visibility test, so the count is an index-only scan.
    mine = everything.filter(assignee_id=viewer.membership_id, status__in=OPEN_STATUSES)
    counts = {
        "queue": _count(base.filter(status=Conversation.Status.QUEUED, assignee__isnull=True)),
        "mine": _count(mine),
        "mine_unread": _count(mine.filter(unread_agent__gt=0)),
    }
    if viewer.is_supervisor:
        counts["open"] = _count(base.filter(status__in=OPEN_STATUSES))
    row = Account.objects.filter(pk=viewer.account_id).order_by().annotate(**counts).values(*counts).first() or {}
    return {"queue": 0, "mine": 0, "mine_unread": 0, "open": None, **row}


def members_with_open_load(*, account_id: int) -> QuerySet[Membership]:
    """Active members with ``open_count``: their assigned or snoozed conversations.

    A correlated count per member on ``conv_mine_idx``; joining every
    conversation a member ever had (closed ones included) and grouping
    afterwards read the whole table.
    """
    open_assigned = Conversation.objects.filter(
        account_id=account_id,
        assignee_id=OuterRef("pk"),
        status__in=[Conversation.Status.ASSIGNED, Conversation.Status.SNOOZED],
    ).order_by().values("assignee_id").annotate(n=Count("id")).values("n")
    return (
        Membership.objects.filter(account_id=account_id, is_active=True)
        .select_related("user")
        .annotate(open_count=Coalesce(Subquery(open_assigned, output_field=IntegerField()), Value(0)))
    )


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
