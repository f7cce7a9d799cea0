"""Campaign settings (admins): list, create, edit, choose agents.

Thin views: parse the form, call the services, turn ``core.exceptions`` into
form errors; every lookup goes through a selector that takes the account, so
another tenant's campaign answers 404 like a missing one.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.exceptions import CharlaError, NotFound
from core.tenancy import member_required

from . import selectors, services
from .forms import CampaignForm


@require_GET
@member_required("admin")
def campaign_list(request: HttpRequest) -> HttpResponse:
    return render(request, "campaigns/campaign_list.html", {"campaigns": selectors.campaign_list(account=request.account)})


def _form_page(request: HttpRequest, campaign) -> HttpResponse:
    account = request.account
    form = CampaignForm(request.POST or None, account=account, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                if campaign is None:
                    saved = services.campaign_create(account=account, actor=request.membership, **form.service_data())
                else:
                    saved = services.campaign_update(campaign=campaign, actor=request.membership, **form.service_data())
                services.campaign_set_agents(campaign=saved, membership_ids=form.agent_ids(), actor=request.membership)
        except CharlaError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("“%(name)s” was saved.") % {"name": saved.name})
            return redirect("campaigns:edit", campaign_id=saved.pk)
    context = {"form": form, "campaign": campaign, "is_new": campaign is None}
    return render(request, "campaigns/campaign_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@member_required("admin")
def campaign_new(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@require_http_methods(["GET", "POST"])
@member_required("admin")
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    try:
        campaign = selectors.campaign_get(account=request.account, campaign_id=campaign_id)
    except NotFound:
        raise Http404 from None
    return _form_page(request, campaign)
