"""Resolve the request's account and membership in one place.

Pages: :class:`AccountMiddleware` sets ``request.account`` and
``request.membership`` (lazily) from the session's chosen account, falling
back to the user's first membership; :func:`member_required` guards views by
role. API: :class:`AccountApiView` does the same in DRF's ``initial()`` (the
account may be chosen with the ``X-Charla-Account`` header, a slug).

Role order lives on the Membership model (``Membership.has_role``); core
reaches the model through the app registry so it never imports a domain app.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from rest_framework import exceptions as drf_exceptions
from rest_framework.views import APIView

from django.apps import apps
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

SESSION_KEY = "charla_account_id"
API_HEADER = "HTTP_X_CHARLA_ACCOUNT"


def _membership_model():
    return apps.get_model("accounts", "Membership")


def membership_for(user: Any, *, account_id: int | None = None, account_slug: str | None = None):
    """The user's membership in the given account, or their first one, or None."""
    if user is None or not user.is_authenticated:
        return None
    qs = _membership_model().objects.select_related("account", "user").filter(user=user, is_active=True)
    if account_id is not None:
        found = qs.filter(account_id=account_id).first()
        if found is not None:
            return found
    if account_slug:
        return qs.filter(account__slug=account_slug).first()
    return qs.order_by("created_at", "id").first()


class AccountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        def resolve():
            return membership_for(request.user, account_id=request.session.get(SESSION_KEY))

        request.membership = SimpleLazyObject(resolve)  # type: ignore[attr-defined]
        request.account = SimpleLazyObject(lambda: request.membership.account if request.membership else None)  # type: ignore[attr-defined]
        return self.get_response(request)


def switch_account(request: HttpRequest, *, account_id: int) -> bool:
    """Make ``account_id`` the request's account if the user belongs to it."""
    membership = membership_for(request.user, account_id=account_id)
    if membership is None or membership.account_id != account_id:
        return False
    request.session[SESSION_KEY] = account_id
    return True


def current_membership(request: HttpRequest):
    membership = getattr(request, "membership", None)
    # SimpleLazyObject wrapping None is truthy-unsafe: unwrap explicitly.
    if membership is None:
        return None
    try:
        membership.pk  # noqa: B018 - force evaluation
    except AttributeError:
        return None
    return membership


def member_required(min_role: str = "agent") -> Callable:
    """Require a logged-in member of the request's account with at least ``min_role``.

    A user with no account is sent to create one; a member below the role gets
    a 403 page (the account is theirs, so its existence is no secret).
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = current_membership(request)
            if membership is None:
                return redirect("accounts:signup")
            if not membership.has_role(min_role):
                from django.core.exceptions import PermissionDenied

                raise PermissionDenied(_("Your role does not allow this."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def get_scoped_or_404(queryset, **lookup):
    """``get_object_or_404`` for an already account-scoped queryset."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


class AccountApiView(APIView):
    """DRF base: resolves ``request.account`` / ``request.membership`` once.

    ``min_role`` is the least role allowed for every method of the view.
    """

    min_role = "agent"

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        slug = request.META.get(API_HEADER)
        if slug:
            membership = membership_for(request.user, account_slug=slug)
        else:
            session = getattr(request._request, "session", None)
            account_id = session.get(SESSION_KEY) if session is not None else None
            membership = membership_for(request.user, account_id=account_id)
        if membership is None:
            raise drf_exceptions.NotFound(_("No such account."))
        if not membership.has_role(self.min_role):
            raise drf_exceptions.PermissionDenied(_("Your role does not allow this."))
        request.membership = membership
        request.account = membership.account
