"""Settings → Saved replies: list, create, edit and delete canned responses.

Shared responses are changed by admins and owners only; personal ones only by
their owner (``services.canned``). Another member's personal response or
another account's id answers 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.exceptions import CharlaError, PermissionDenied
from core.tenancy import member_required

from .. import services
from ..forms import CannedResponseForm
from ..models import CannedResponse
from ..selectors import canned_response_list
from ._common import error_status, member

LIST = "conversations/settings/canned_list.html"
FORM = "conversations/settings/canned_form.html"


def _get(request: HttpRequest, canned_id: int) -> CannedResponse:
    canned = canned_response_list(membership=member(request)).filter(pk=canned_id).first()
    if canned is None:
        raise Http404(_("No such saved reply."))
    return canned


def _form_error(form: CannedResponseForm, exc: CharlaError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _list_context(request: HttpRequest, form: CannedResponseForm) -> dict:
    membership = member(request)
    items = list(canned_response_list(membership=membership).order_by("shortcut"))
    return {
        "form": form,
        "shared": [c for c in items if c.owner_id is None],
        "personal": [c for c in items if c.owner_id == membership.pk],
        "can_share": membership.is_admin,
        "membership": membership,
    }


@member_required()
@require_http_methods(["GET", "POST"])
def canned_list(request: HttpRequest) -> HttpResponse:
    membership = member(request)
    form = CannedResponseForm(request.POST or None, initial={"shared": False})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                canned = services.canned_response_create(
                    membership=membership, shortcut=data["shortcut"], content=data["content"], shared=data["shared"]
                )
            except CharlaError as exc:
                _form_error(form, exc)
                status = error_status(exc)
            else:
                messages.success(request, _("Saved reply /%(shortcut)s created.") % {"shortcut": canned.shortcut})
                return redirect("inbox:canned_list")
        else:
            status = 400
    return TemplateResponse(request, LIST, _list_context(request, form), status=status)


@member_required()
@require_http_methods(["GET", "POST"])
def canned_edit(request: HttpRequest, canned_id: int) -> HttpResponse:
    membership = member(request)
    canned = _get(request, canned_id)
    shared = canned.owner_id is None
    can_edit = membership.is_admin if shared else canned.owner_id == membership.pk
    form = CannedResponseForm(
        request.POST or None, initial={"shortcut": canned.shortcut, "content": canned.content, "shared": shared}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.canned_response_update(
                    membership=membership, canned=canned, shortcut=data["shortcut"], content=data["content"],
                    shared=data["shared"] if membership.is_admin else shared,
                )
            except CharlaError as exc:
                _form_error(form, exc)
                status = error_status(exc)
            else:
                messages.success(request, _("Saved reply updated."))
                return redirect("inbox:canned_list")
        else:
            status = 400
    context = {"form": form, "canned": canned, "can_edit": can_edit, "can_share": membership.is_admin}
    return TemplateResponse(request, FORM, context, status=status)


@member_required()
@require_POST
def canned_delete(request: HttpRequest, canned_id: int) -> HttpResponse:
    membership = member(request)
    canned = _get(request, canned_id)
    shortcut = canned.shortcut
    try:
        services.canned_response_delete(membership=membership, canned=canned)
    except PermissionDenied as exc:
        messages.error(request, exc.message)
        return TemplateResponse(request, LIST, _list_context(request, CannedResponseForm()), status=403)
    messages.success(request, _("Saved reply /%(shortcut)s deleted.") % {"shortcut": shortcut})
    return redirect("inbox:canned_list")
