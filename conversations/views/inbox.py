"""The inbox lists (Queue, Mine, All open, Closed), their live counts, the
team's presence and the member's availability.

Every view is a real URL: without htmx it renders the whole page; with htmx
it renders only the partial the request targets (``HX-Target``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Membership
from core.exceptions import CharlaError
from core.tenancy import member_required

from .. import services
from ..forms import AvailabilityForm, ListFilterForm
from ..models import Conversation
from ..selectors import conversation_list, inbox_counts, members_with_open_load
from . import _fragments, _reads
from ._common import (
    config_strings,
    done,
    error_fragment,
    error_status,
    hx_target,
    is_fragment,
    member,
    row_kit,
    safe_next,
    viewer,
)

PAGE = "conversations/inbox/page.html"

VIEW_LABELS = {
    "queue": gettext_lazy("Queue"),
    "mine": gettext_lazy("Mine"),
    "open": gettext_lazy("All open"),
    "closed": gettext_lazy("Closed"),
}
VIEW_EMPTY = {
    "queue": (gettext_lazy("The queue is empty"), gettext_lazy("New conversations waiting for an agent appear here.")),
    "mine": (gettext_lazy("Nothing assigned to you"), gettext_lazy("Take a conversation from the queue to start.")),
    "open": (gettext_lazy("No open conversations"), gettext_lazy("Every conversation has been closed.")),
    "closed": (gettext_lazy("No closed conversations"), gettext_lazy("Closed conversations are kept here.")),
}
AVAILABILITY_ORDER = {"online": 0, "away": 1, "offline": 2}


def view_allowed(membership: Membership, view: str) -> bool:
    return view in VIEW_LABELS and (view != "open" or membership.is_supervisor)


def default_view_for(membership: Membership, conversation) -> str:
    """The list shown beside a conversation opened without ``?view=``."""
    if conversation.status == conversation.Status.CLOSED:
        return "closed"
    if conversation.assignee_id == membership.pk:
        return "mine"
    if conversation.assignee_id is None and conversation.status == conversation.Status.QUEUED:
        return "queue"
    return "open" if membership.is_supervisor else "mine"


def team_list(request: HttpRequest) -> list[Membership]:
    """Members with their open load, online first (supervisors only; once per request)."""
    cached = getattr(request, "_inbox_team", None)
    if cached is None:
        membership = member(request)
        cached = sorted(
            members_with_open_load(account_id=membership.account_id),
            key=lambda m: (AVAILABILITY_ORDER.get(m.availability, 3), m.user.display_name.lower()),
        )
        request._inbox_team = cached  # type: ignore[attr-defined]
    return cached


def campaign_choices(request: HttpRequest) -> list[tuple[int, str]]:
    """The account's active campaigns (filters and the fields form), once per request."""
    cached = getattr(request, "_inbox_campaigns", None)
    if cached is None:
        cached = _reads.campaign_choices(account_id=member(request).account_id)
        request._inbox_campaigns = cached  # type: ignore[attr-defined]
    return cached


def list_state(request: HttpRequest, view: str, *, active_id: int | None = None) -> dict[str, Any]:
    """The list pane: filters, one keyset page of rows (their HTML from the
    fragment cache), and the links around it."""
    membership = member(request)
    account_id = membership.account_id
    sites = _reads.site_choices(account_id=account_id)
    campaigns = campaign_choices(request)
    filters: dict[str, Any] = {}
    if any(name in request.GET for name in ListFilterForm.FIELDS):  # an unfiltered list skips the form
        filters = ListFilterForm(request.GET, sites=sites, campaigns=campaigns).values()
    qs = conversation_list(
        membership=membership,
        view=view,
        viewer=viewer(request),
        site_id=filters.get("site"),
        channel=filters.get("channel"),
        campaign_id=filters.get("campaign"),
        priority=filters.get("priority"),
    )
    after = request.GET.get("after", "")
    page = _reads.conversation_page(qs, account_id=account_id, view=view, after=after, search=filters.get("q") or "")
    query = urlencode(filters)
    list_url = reverse(f"inbox:{view}")
    more_url = ""
    if page.next_cursor:
        more_url = f"{list_url}?{urlencode({**filters, 'after': page.next_cursor})}"
    empty_title, empty_text = VIEW_EMPTY[view]
    if filters:
        empty_title, empty_text = _("No conversations match"), _("Try other filters or clear the search.")
    return {
        "view": view,
        "view_label": VIEW_LABELS[view],
        "filters": filters,
        "active_filters": len([name for name in filters if name != "q"]),
        "channel_choices": Conversation.Channel.choices,
        "priority_choices": Conversation.Priority.choices,
        "filter_query": query,
        "filter_vals": {"view": view, **filters},
        "sites": sites,
        "campaigns": campaigns,
        "rows": page.rows,
        "row_html": _fragments.render_rows(page.rows, active_id=active_id),
        "after": after,
        "more_url": more_url,
        "list_url": list_url,
        "list_full_url": f"{list_url}?{query}" if query else list_url,
        "empty_title": empty_title,
        "empty_text": empty_text,
    }


def nav_state(request: HttpRequest, view: str) -> dict[str, Any]:
    membership = member(request)
    counts = inbox_counts(viewer=viewer(request))
    views = [
        {"key": key, "label": label, "url": reverse(f"inbox:{key}"), "count": counts.get(key)}
        for key, label in VIEW_LABELS.items()
        if view_allowed(membership, key)
    ]
    return {
        "membership": membership,
        "view": view,
        "views": views,
        "counts": counts,
        "badge": counts["mine_unread"] + counts["queue"],
        "team": team_list(request) if membership.is_supervisor else None,
    }


def client_config(request: HttpRequest) -> dict[str, Any]:
    membership = member(request)
    return {
        "memberId": membership.pk,
        "memberName": membership.user.display_name,
        "accountId": membership.account_id,
        "isSupervisor": membership.is_supervisor,
        "availability": membership.availability,
        "slaMinutes": membership.account.sla_unanswered_minutes,
        "wsPath": "/ws/agent/",
        "urls": {
            "counts": reverse("inbox:counts"),
            "availability": reverse("inbox:availability"),
            "conversations": reverse("inbox:index") + "conversations/",
        },
        "i18n": config_strings(),
        "row": row_kit(),
    }


def page_context(request: HttpRequest, view: str, *, active_id: int | None = None) -> dict[str, Any]:
    return {
        **nav_state(request, view),
        **list_state(request, view, active_id=active_id),
        "client_config": client_config(request),
        "availability_choices": Membership.Availability.choices,
    }


# --- Views ------------------------------------------------------------------------------


@member_required()
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """``/app/``: Mine when something is assigned to me, else the Queue."""
    counts = inbox_counts(viewer=viewer(request))
    return redirect("inbox:mine" if counts["mine"] else "inbox:queue")


@member_required()
@require_GET
def conversation_list_view(request: HttpRequest, view: str) -> HttpResponse:
    membership = member(request)
    if not view_allowed(membership, view):
        raise DjangoPermissionDenied(_("Only supervisors see every open conversation."))
    target = hx_target(request)
    if target == "conv-rows" or target.startswith("conv-more"):
        return TemplateResponse(request, "conversations/inbox/_list.html#rows", list_state(request, view))
    if target == "list-pane":
        return TemplateResponse(request, "conversations/inbox/_list.html", list_state(request, view))
    context = page_context(request, view)
    if is_fragment(request):
        # A view switch: the whole workspace, plus the nav (out of band) for counts and the current view.
        return TemplateResponse(request, "conversations/inbox/_workspace.html", {**context, "oob_nav": True})
    return TemplateResponse(request, PAGE, context)


@member_required()
@require_GET
def counts(request: HttpRequest) -> HttpResponse:
    """The nav with live counts (and, for supervisors, the team's presence)."""
    view = request.GET.get("view", "")
    return TemplateResponse(request, "conversations/inbox/_nav.html", nav_state(request, view))


@member_required()
@require_POST
def availability(request: HttpRequest) -> HttpResponse:
    """Online / away / offline, for browsers without the socket (same service)."""
    membership = member(request)
    form = AvailabilityForm(request.POST)
    next_url = safe_next(request, reverse("inbox:index"))
    if not form.is_valid():
        message = _("Choose online, away or offline.")
        if is_fragment(request):
            return error_fragment(request, message, status=400)
        return done(request, next_url=next_url)
    try:
        membership = services.member_set_availability(membership=membership, availability=form.cleaned_data["availability"])
    except CharlaError as exc:
        if is_fragment(request):
            return error_fragment(request, exc.message, status=error_status(exc))
        raise
    if is_fragment(request):
        return TemplateResponse(
            request,
            "conversations/inbox/_availability.html",
            {"current_membership": membership, "availability_choices": Membership.Availability.choices},
        )
    return done(request, next_url=next_url, message=_("You are now %(status)s.") % {"status": membership.get_availability_display().lower()})
