"""Reads the inbox pages need on top of ``conversations.selectors``.

Each takes the account (or the viewer) first, like the selectors; they live
here because they only serve these pages (keyset cursors, filter choices, the
contact's trail). The counts, the team's load and the search live in the
selectors (``inbox_counts``, ``members_with_open_load``, ``search_filter``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from accounts.models import Membership, Site

from ..models import Conversation, PageView
from ..selectors import Viewer, conversation_rows, conversation_search_ids, visible_q

PAGE_SIZE = 30


# --- Keyset cursors ----------------------------------------------------------------
#
# A cursor holds the sort values of the last row shown, so the next page is
# ``WHERE (sort) > (cursor)`` on the list's own index instead of an OFFSET
# that reads and throws away every earlier row.


def _iso(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""


def _dt(value: str) -> datetime | None:
    return parse_datetime(value) if value else None


def cursor_for(view: str, conversation: Conversation) -> str:
    if view == "queue":
        return f"{conversation.priority},{_iso(conversation.queued_at)},{conversation.pk}"
    if view == "closed":
        return f"{_iso(conversation.closed_at)},{conversation.pk}"
    return f"{_iso(conversation.last_message_at)},{conversation.pk}"


def _desc_after(field: str, stamp: datetime | None, pk: int) -> Q:
    """Rows after (stamp, pk) in ``-field, -id`` order (PostgreSQL puts NULLs first)."""
    if stamp is None:
        return Q(**{f"{field}__isnull": True, "id__lt": pk}) | Q(**{f"{field}__isnull": False})
    return Q(**{f"{field}__lt": stamp}) | Q(**{field: stamp, "id__lt": pk})


def apply_cursor(qs: QuerySet[Conversation], *, view: str, cursor: str) -> QuerySet[Conversation]:
    """Filter ``qs`` to the rows after ``cursor``; a malformed cursor is ignored."""
    parts = (cursor or "").split(",")
    try:
        if view == "queue":
            priority, stamp, pk = int(parts[0]), _dt(parts[1]), int(parts[2])
            if stamp is None:
                return qs.filter(Q(priority__lt=priority) | Q(priority=priority, queued_at__isnull=True, id__gt=pk))
            return qs.filter(
                Q(priority__lt=priority)
                | Q(priority=priority, queued_at__gt=stamp)
                | Q(priority=priority, queued_at=stamp, id__gt=pk)
                | Q(priority=priority, queued_at__isnull=True)
            )
        stamp, pk = _dt(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return qs
    return qs.filter(_desc_after("closed_at" if view == "closed" else "last_message_at", stamp, pk))


@dataclass
class Page:
    rows: list[Conversation]
    next_cursor: str


def conversation_page(
    qs: QuerySet[Conversation], *, account_id: int, view: str, after: str = "", search: str = "", size: int = PAGE_SIZE
) -> Page:
    """One page of ``qs`` in two steps: the ids from the list's index alone
    (sorting a few hundred index entries, no joins), then the rows with
    their contact, assignee and campaign for those ids only
    (``selectors.conversation_rows``: the columns a row shows). ``search``
    picks the ids with ``selectors.conversation_search_ids``."""
    if after:
        qs = apply_cursor(qs, view=view, cursor=after)
    if search.strip():
        ids = conversation_search_ids(qs, account_id=account_id, term=search, limit=size + 1)
    else:
        ids = list(qs.values_list("pk", flat=True)[: size + 1])
    more = len(ids) > size
    ids = ids[:size]
    if not ids:
        return Page(rows=[], next_cursor="")
    rows = conversation_rows(account_id=account_id, ids=ids)
    return Page(rows=rows, next_cursor=cursor_for(view, rows[-1]) if more and rows else "")


# --- Filter choices and the contact pane ---------------------------------------------


def site_choices(*, account_id: int) -> list[tuple[int, str]]:
    return list(Site.objects.filter(account_id=account_id).order_by("name").values_list("id", "name"))


def campaign_choices(*, account_id: int) -> list[tuple[int, str]]:
    campaign = apps.get_model("campaigns", "Campaign")
    return list(campaign.objects.filter(account_id=account_id, active=True).order_by("name").values_list("id", "name"))


def page_view_list(*, account_id: int, contact_id: int, limit: int = 8) -> list[PageView]:
    return list(
        PageView.objects.filter(account_id=account_id, contact_id=contact_id).order_by("-created_at", "-id")[:limit]
    )


def contact_conversation_list(*, viewer: Viewer, contact_id: int, exclude_id: int, limit: int = 5) -> list[Conversation]:
    """The contact's other conversations this member may open, newest first."""
    return list(
        Conversation.objects.filter(account_id=viewer.account_id, contact_id=contact_id)
        .filter(visible_q(viewer))
        .exclude(pk=exclude_id)
        .only("id", "status", "created_at", "closed_at", "last_message_preview", "outcome", "account_id")
        .order_by("-created_at", "-id")[:limit]
    )


def member_get(*, account_id: int, membership_id) -> Membership | None:
    try:
        return Membership.objects.select_related("user").get(account_id=account_id, pk=int(membership_id), is_active=True)
    except (Membership.DoesNotExist, TypeError, ValueError):
        return None
