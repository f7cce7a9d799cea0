"""One conversation: the thread, the contact, the composer and the actions.

Reads go through selectors, writes through ``conversations.services``; a
domain error becomes a clear message (an htmx toast with the right 4xx, or
the page again with the message) and nothing changes.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Membership
from core.exceptions import CharlaError, NotFound, PermissionDenied, ValidationError
from core.tenancy import member_required

from .. import services
from ..forms import SNOOZE_PRESETS, AssignForm, CloseForm, ConversationFieldsForm, MessageForm, SnoozeForm
from ..models import Conversation
from ..selectors import canned_response_list, conversation_get_for_member, message_thread
from . import _fragments, _reads
from ._common import (
    done,
    error_fragment,
    error_status,
    hx_target,
    is_fragment,
    member,
    not_found_message,
    viewer,
)
from .inbox import campaign_choices, default_view_for, page_context, team_list, view_allowed

MESSAGES_PAGE = 30
CATCH_UP_LIMIT = 200
PANE = "conversations/inbox/_conversation.html"
PAGE = "conversations/inbox/page.html"
MESSAGE = "conversations/live/message.html"


def _get(request: HttpRequest, conversation_id: int) -> Conversation:
    try:
        return conversation_get_for_member(membership=member(request), conversation_id=conversation_id, viewer=viewer(request))
    except NotFound:
        raise Http404(not_found_message()) from None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def permissions(membership: Membership, conversation: Conversation) -> dict[str, bool]:
    """What the buttons offer; the services decide again on every POST."""
    status = conversation.status
    closed = status == Conversation.Status.CLOSED
    mine = conversation.assignee_id == membership.pk
    unassigned = conversation.assignee_id is None
    supervisor = membership.is_supervisor
    return {
        "reply": not closed,
        "take": not closed and unassigned,
        "assign": not closed and supervisor,
        "unassign": not closed and not unassigned and (supervisor or mine),
        "close": not closed and (supervisor or mine or unassigned),
        "snooze": not closed and status != Conversation.Status.SNOOZED and (supervisor or mine),
        "reopen": status in (Conversation.Status.CLOSED, Conversation.Status.SNOOZED) and (supervisor or mine or unassigned),
        "move_campaign": supervisor,
        "edit_fields": supervisor or mine or unassigned,
    }


def header_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    membership = member(request)
    can = permissions(membership, conversation)
    return {
        "conversation": conversation,
        "membership": membership,
        "can": can,
        "team": team_list(request) if can["assign"] else None,
        "outcome_choices": Conversation.Outcome.choices,
        "snooze_presets": SNOOZE_PRESETS,
    }


def contact_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    membership = member(request)
    contact = conversation.contact
    return {
        "conversation": conversation,
        "contact": contact,
        "can": permissions(membership, conversation),
        "page_views": _reads.page_view_list(account_id=conversation.account_id, contact_id=contact.pk),
        "previous_conversations": _reads.contact_conversation_list(
            viewer=viewer(request), contact_id=contact.pk, exclude_id=conversation.pk
        ),
        "priority_choices": Conversation.Priority.choices,
        "lead_choices": Conversation.LeadQuality.choices,
        "outcome_choices": Conversation.Outcome.choices,
        "campaign_choices": campaign_choices(request),
    }


def thread_context(request: HttpRequest, conversation: Conversation, *, before: int | None = None) -> dict[str, Any]:
    messages = message_thread(conversation=conversation, before=before, limit=MESSAGES_PAGE + 1)
    has_older = len(messages) > MESSAGES_PAGE
    if has_older:
        messages = messages[1:]
    base = reverse("inbox:conversation", args=[conversation.pk])
    return {
        "conversation": conversation,
        "thread_messages": messages,
        "thread_items": list(zip(messages, _fragments.render_messages(messages), strict=True)),
        "has_older": has_older,
        "older_url": f"{base}messages/?before={messages[0].pk}" if has_older and messages else "",
        "older_page_url": f"{base}?before={messages[0].pk}" if has_older and messages else "",
        "is_older_page": before is not None,
        "newest_url": base,
    }


def conversation_context(request: HttpRequest, conversation: Conversation, *, before: int | None = None) -> dict[str, Any]:
    membership = member(request)
    canned = [
        {"shortcut": c.shortcut, "content": c.content, "shared": c.owner_id is None}
        for c in canned_response_list(membership=membership).order_by("shortcut")[:500]
    ]
    return {
        **header_context(request, conversation),
        **contact_context(request, conversation),
        **thread_context(request, conversation, before=before),
        "canned": canned,
        "pane_conversation": conversation,
    }


def _page(request: HttpRequest, conversation: Conversation, *, status: int = 200, **extra: Any) -> TemplateResponse:
    membership = member(request)
    view = request.GET.get("view", "")
    if not view_allowed(membership, view):
        view = default_view_for(membership, conversation)
    before = _as_int(request.GET.get("before"))
    context = {
        **page_context(request, view, active_id=conversation.pk),
        **conversation_context(request, conversation, before=before),
        "active_id": conversation.pk,
        **extra,
    }
    template = PAGE
    if is_fragment(request) and hx_target(request) == "inbox":
        template = "conversations/inbox/_workspace.html"
        context["oob_nav"] = True
    return TemplateResponse(request, template, context, status=status)


# --- Reading ----------------------------------------------------------------------------


@member_required()
@require_GET
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _get(request, conversation_id)
    target = hx_target(request)
    if target == "conv-header":
        return TemplateResponse(request, f"{PANE}#header", header_context(request, conversation))
    if target == "contact-pane":
        return TemplateResponse(request, "conversations/inbox/_contact.html", contact_context(request, conversation))
    if target == "conversation-pane":
        return TemplateResponse(request, PANE, conversation_context(request, conversation))
    return _page(request, conversation)


@member_required()
@require_http_methods(["GET", "POST"])
def messages(request: HttpRequest, conversation_id: int) -> HttpResponse:
    if request.method == "POST":
        return _send(request, conversation_id)
    conversation = _get(request, conversation_id)
    after = _as_int(request.GET.get("after"))
    before = _as_int(request.GET.get("before"))
    if not is_fragment(request):
        url = reverse("inbox:conversation", args=[conversation.pk])
        return redirect(f"{url}?before={before}" if before else url)
    if after is not None:
        # Catch-up after a reconnect: exactly what came after the last message shown.
        items = message_thread(conversation=conversation, after=after, limit=CATCH_UP_LIMIT)
        context = {"message_html": _fragments.render_messages(items), "conversation": conversation}
        response = TemplateResponse(request, "conversations/inbox/_messages.html", context)
        response["X-Charla-More"] = "1" if len(items) == CATCH_UP_LIMIT else "0"
        return response
    return TemplateResponse(
        request, "conversations/inbox/_thread.html#older", thread_context(request, conversation, before=before)
    )


# --- Writing ------------------------------------------------------------------------------


def _fail(request: HttpRequest, conversation_id: int, exc: CharlaError | str, *, status: int | None = None, **extra: Any) -> HttpResponse:
    """Answer a refused action: a toast for htmx, the page with the message otherwise."""
    message = exc if isinstance(exc, str) else exc.message
    status = status or (error_status(exc) if isinstance(exc, CharlaError) else 400)
    if status == 404 and not is_fragment(request):
        raise Http404(message)
    if is_fragment(request):
        return error_fragment(request, message, status=status)
    conversation = _get(request, conversation_id)
    return _page(request, conversation, status=status, page_error=message, **extra)


def _after_action(request: HttpRequest, conversation_id: int, *, toast: str) -> HttpResponse:
    """Show the conversation again, or the list when this member can no longer see it."""
    try:
        conversation = conversation_get_for_member(
            membership=member(request), conversation_id=conversation_id, viewer=viewer(request)
        )
    except NotFound:
        conversation = None
    if not is_fragment(request):
        if conversation is None:
            return done(request, next_url=reverse("inbox:index"), message=toast)
        return done(request, next_url=reverse("inbox:conversation", args=[conversation_id]), message=toast)
    if conversation is None:
        response = TemplateResponse(request, "conversations/inbox/_empty.html", {"toast": toast})
        response["HX-Retarget"] = "#conversation-pane"
        response["HX-Reswap"] = "outerHTML"
        response["HX-Push-Url"] = reverse("inbox:index")
        return response
    response = TemplateResponse(request, PANE, {**conversation_context(request, conversation), "toast": toast})
    response["HX-Retarget"] = "#conversation-pane"
    response["HX-Reswap"] = "outerHTML"
    return response


def _send(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = member(request)
    form = MessageForm(request.POST, request.FILES)
    if not form.is_valid():
        return _fail(request, conversation_id, _("The message could not be read. Try again."))
    data = form.cleaned_data
    attachment_ids = form.attachment_ids()
    try:
        if data.get("file"):
            _get(request, conversation_id)
            upload = services.attachment_upload(account_id=membership.account_id, upload=data["file"], membership=membership)
            attachment_ids.append(upload.pk)
        result = services.agent_message_send(
            membership=membership,
            conversation_id=conversation_id,
            client_id=data.get("client_id") or "",
            content=data.get("content") or "",
            attachment_ids=attachment_ids,
            private=bool(data.get("private")),
        )
    except CharlaError as exc:
        if isinstance(exc, NotFound):
            raise Http404(not_found_message()) from None
        return _fail(request, conversation_id, exc, draft=data.get("content") or "", draft_private=bool(data.get("private")))
    if is_fragment(request):
        response = TemplateResponse(request, MESSAGE, {"message": result.message}, status=201 if result.created else 200)
        response["X-Charla-Message-Id"] = str(result.message.pk)
        return response
    url = reverse("inbox:conversation", args=[conversation_id])
    return redirect(f"{url}#msg-{result.message.pk}")


@member_required()
@require_POST
def attachment_create(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Upload first, send later: answers the attachment's id for ``message.send``."""
    membership = member(request)
    _get(request, conversation_id)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": "invalid", "detail": _("Choose a file to upload.")}, status=400)
    try:
        attachment = services.attachment_upload(account_id=membership.account_id, upload=upload, membership=membership)
    except CharlaError as exc:
        return JsonResponse({"error": exc.code, "detail": exc.message}, status=error_status(exc))
    return JsonResponse(
        {
            "id": attachment.pk,
            "name": attachment.name,
            "size": attachment.size,
            "content_type": attachment.content_type,
            "is_image": attachment.is_image,
            "thumbnail_url": attachment.thumbnail.url if attachment.thumbnail else None,
        },
        status=201,
    )


@member_required()
@require_POST
def mark_read(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The HTTP twin of the socket's ``read`` frame."""
    conversation = _get(request, conversation_id)
    try:
        services.message_mark_read(conversation=conversation, reader="agent", up_to_id=request.POST.get("message_id"))
    except CharlaError as exc:
        return JsonResponse({"error": exc.code, "detail": exc.message}, status=error_status(exc))
    return HttpResponse(status=204)


@member_required()
@require_POST
def fields(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = member(request)
    conversation = _get(request, conversation_id)
    can = permissions(membership, conversation)
    if not can["edit_fields"]:
        return _fail(request, conversation_id, _("Only the assignee or a supervisor can change this conversation."), status=403)
    form = ConversationFieldsForm(request.POST)
    if not form.is_valid():
        return _fail(request, conversation_id, _("Choose one of the listed values."))
    changes = form.changes(can_move_campaign=can["move_campaign"])
    if form.errors:
        return _fail(request, conversation_id, _("No such campaign."))
    try:
        conversation = services.conversation_update_fields(conversation=conversation, by=membership, **changes)
    except CharlaError as exc:
        return _fail(request, conversation_id, exc)
    if is_fragment(request):
        context = {**contact_context(request, conversation), "saved": True}
        return TemplateResponse(request, "conversations/inbox/_contact.html#fields", context)
    return done(request, next_url=reverse("inbox:conversation", args=[conversation_id]), message=_("Saved."))


@member_required()
@require_POST
def close(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = member(request)
    conversation = _get(request, conversation_id)
    form = CloseForm(request.POST)
    if not form.is_valid():
        return _fail(request, conversation_id, _("Choose one of the listed outcomes."))
    try:
        services.conversation_close(conversation=conversation, by=membership, outcome=form.cleaned_data.get("outcome") or None)
    except CharlaError as exc:
        return _fail(request, conversation_id, exc)
    return _after_action(request, conversation_id, toast=_("Conversation closed."))


@member_required()
@require_POST
def snooze(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = member(request)
    conversation = _get(request, conversation_id)
    if not permissions(membership, conversation)["snooze"] and conversation.status != Conversation.Status.CLOSED:
        return _fail(request, conversation_id, _("Only the assignee or a supervisor can snooze this conversation."), status=403)
    form = SnoozeForm(request.POST, default_tz=membership.account.timezone)
    if not form.is_valid():
        return _fail(request, conversation_id, " ".join(form.errors.get("__all__", [])) or _("Choose a valid date and time."))
    try:
        services.conversation_snooze(conversation=conversation, by=membership, until=form.until_at())
    except CharlaError as exc:
        return _fail(request, conversation_id, exc)
    return _after_action(request, conversation_id, toast=_("Snoozed. It will come back on its own."))


@member_required()
@require_POST
def reopen(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = member(request)
    conversation = _get(request, conversation_id)
    if not permissions(membership, conversation)["reopen"]:
        if conversation.status not in (Conversation.Status.CLOSED, Conversation.Status.SNOOZED):
            return _fail(request, conversation_id, _("This conversation is already open."), status=409)
        return _fail(request, conversation_id, _("Only the assignee or a supervisor can reopen this conversation."), status=403)
    try:
        services.conversation_reopen(conversation=conversation, by=membership)
    except CharlaError as exc:
        return _fail(request, conversation_id, exc)
    return _after_action(request, conversation_id, toast=_("Conversation reopened."))


@member_required()
@require_POST
def assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Take from the queue (any agent, ``assignee`` = me) or reassign (supervisors)."""
    membership = member(request)
    conversation = _get(request, conversation_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _fail(request, conversation_id, _("Choose an agent."))
    assignee = _reads.member_get(account_id=membership.account_id, membership_id=form.cleaned_data["assignee"])
    if assignee is None:
        return _fail(request, conversation_id, _("That agent is not in this account."))
    expected = request.POST.get("expected_assignee")
    if expected is not None and (expected or None) != (str(conversation.assignee_id) if conversation.assignee_id else None):
        # The page was stale: someone else moved the conversation meanwhile.
        who = conversation.assignee.user.display_name if conversation.assignee_id else _("the queue")
        return _fail(
            request, conversation_id,
            _("This conversation moved in the meantime (now: %(who)s). Nothing was changed.") % {"who": who},
            status=409,
        )
    try:
        services.conversation_assign(conversation=conversation, assignee=assignee, by=membership)
    except PermissionDenied as exc:
        return _fail(request, conversation_id, exc, status=403)
    except (ValidationError, CharlaError) as exc:
        return _fail(request, conversation_id, exc)
    if assignee.pk == membership.pk:
        toast = _("The conversation is yours.")
    else:
        toast = _("Assigned to %(name)s.") % {"name": assignee.user.display_name}
    return _after_action(request, conversation_id, toast=toast)


@member_required()
@require_POST
def unassign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = member(request)
    conversation = _get(request, conversation_id)
    try:
        services.conversation_unassign(conversation=conversation, by=membership)
    except CharlaError as exc:
        return _fail(request, conversation_id, exc)
    return _after_action(request, conversation_id, toast=_("Returned to the queue."))

