"""Account pages: signup, login, password reset, team, invitations, profile, sites.

Views are thin: they parse a form, call one service or selector, and turn
``core.exceptions`` into form errors, toasts or 404s. Every account-scoped
lookup goes through a selector that takes ``request.account``, so another
tenant's id answers 404 exactly like a missing one.
"""

from __future__ import annotations

import copy
import hashlib
import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import forms, selectors, services, throttle
from accounts.signals import client_ip
from core import ratelimit, tenancy
from core.exceptions import CharlaError, NotFound
from core.tenancy import member_required

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- helpers --------------------------------------------------------------------


def _form_error(form, exc: CharlaError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _or_404(selector, **kwargs):
    try:
        return selector(**kwargs)
    except NotFound:
        raise Http404 from None


def _throttled_message(wait: int) -> str:
    minutes = max(1, math.ceil(wait / 60))
    return ngettext(
        "Too many attempts. Try again in %(minutes)d minute.",
        "Too many attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def _log_in(request: HttpRequest, user, *, account_id: int | None = None) -> None:
    if account_id is not None:
        request.session[tenancy.SESSION_KEY] = account_id
    login(request, user, backend=MODEL_BACKEND)


# --- entry points -------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("/app/")
    return redirect("accounts:login")


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    authenticated = request.user.is_authenticated
    form = (forms.CompanyForm if authenticated else forms.SignupForm)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        language = translation.get_language() or settings.LANGUAGE_CODE
        try:
            if authenticated:
                membership = services.account_create(
                    user=request.user, company_name=data["company_name"], site_domain=data["site_domain"],
                    language=language,
                )
            else:
                membership = services.account_signup(
                    company_name=data["company_name"], name=data["name"], email=data["email"],
                    password=data["password"], site_domain=data["site_domain"], language=language,
                )
        except CharlaError as exc:
            _form_error(form, exc)
        else:
            if authenticated:
                tenancy.switch_account(request, account_id=membership.account_id)
            else:
                _log_in(request, membership.user, account_id=membership.account_id)
            messages.success(request, _("Welcome to Charla! %(company)s is ready.") % {"company": membership.account.name})
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form, "authenticated": authenticated})


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request)
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(next_url)
    form = forms.LoginForm(request.POST or None)
    status = 200
    if request.method == "POST":
        ip = client_ip(request)
        email = (request.POST.get("email") or "").strip().lower()
        wait = throttle.retry_after(ip=ip, email=email)
        if wait:
            form.is_valid()
            form.add_error(None, _throttled_message(wait))
            status = 429
        elif form.is_valid():
            user = authenticate(request, email=form.cleaned_data["email"], password=form.cleaned_data["password"])
            if user is None:
                throttle.register_failure(ip=ip, email=email)
                wait = throttle.retry_after(ip=ip, email=email)
                form.add_error(None, _throttled_message(wait) if wait else _("Incorrect email or password."))
            else:
                throttle.reset_email(email=email)
                _log_in(request, user)
                return redirect(next_url)
    return render(
        request, "accounts/login.html", {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You have been logged out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


#: Password-reset requests per client IP and per e-mail address, per hour: a
#: person who mistypes gets several tries; a script mailing someone's inbox
#: (or probing many addresses from one IP) does not.
PASSWORD_RESET_LIMITS = {"ip": 10, "email": 3}
PASSWORD_RESET_WINDOW = 3600


def _password_reset_allowed(request: HttpRequest) -> bool:
    email = (request.POST.get("email") or "").strip().lower()
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    by_ip = ratelimit.hit(
        f"pwreset:ip:{client_ip(request)}", limit=PASSWORD_RESET_LIMITS["ip"], window=PASSWORD_RESET_WINDOW
    )
    by_email = ratelimit.hit(
        f"pwreset:email:{digest}", limit=PASSWORD_RESET_LIMITS["email"], window=PASSWORD_RESET_WINDOW
    )
    return by_ip and by_email


def password_reset(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and not _password_reset_allowed(request):
        form = PasswordResetForm(request.POST)
        form.is_valid()
        form.add_error(None, _("Too many password reset requests. Please try again in an hour."))
        return render(request, "accounts/password_reset_form.html", {"form": form}, status=429)
    return auth_views.PasswordResetView.as_view(
        template_name="accounts/password_reset_form.html",
        email_template_name="accounts/emails/password_reset.txt",
        html_email_template_name="accounts/emails/password_reset.html",
        subject_template_name="accounts/emails/password_reset_subject.txt",
        success_url=reverse_lazy("accounts:password_reset_done"),
        extra_email_context={"public_url": settings.PUBLIC_URL},
    )(request)


password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


@require_POST
@login_required
def switch_account(request: HttpRequest, account_id: int) -> HttpResponse:
    if not tenancy.switch_account(request, account_id=account_id):
        raise Http404
    services.agent_session_switch(
        user=request.user, account_id=account_id, session_key=request.session.session_key,
        ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    return redirect("home")


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """Top-bar language menu: saves the user's language, and the cookie for anyone."""
    form = forms.LanguageForm(request.POST)
    next_url = _safe_next(request)
    response = redirect(next_url)
    if form.is_valid():
        language = form.cleaned_data["language"]
        if request.user.is_authenticated:
            services.user_set_language(user=request.user, language=language)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE, secure=settings.LANGUAGE_COOKIE_SECURE,
        )
    return response


# --- team -------------------------------------------------------------------------


@member_required("agent")
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    actor = request.membership
    can_manage = actor.is_admin
    invite_form = forms.InviteForm(request.POST or None, actor=actor) if can_manage else None
    if request.method == "POST":
        if not can_manage:
            raise DjangoPermissionDenied(_("Your role does not allow this."))
        if invite_form.is_valid():
            try:
                invitation = services.invitation_create(
                    account=request.account, invited_by=request.user,
                    email=invite_form.cleaned_data["email"], role=invite_form.cleaned_data["role"],
                )
            except CharlaError as exc:
                _form_error(invite_form, exc)
            else:
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
                return redirect("accounts:team")
    is_owner = actor.role == actor.Role.OWNER
    members = list(selectors.membership_list(account=request.account))
    for member in members:
        member.is_me = member.pk == actor.pk
        member.can_edit = can_manage and not member.is_me and (is_owner or member.role != actor.Role.OWNER)
    context = {
        "members": members,
        "invitations": selectors.invitation_list_pending(account=request.account) if can_manage else [],
        "invite_form": invite_form,
        "can_manage": can_manage,
        "role_choices": [c for c in actor.Role.choices if is_owner or c[0] != actor.Role.OWNER],
    }
    return render(request, "accounts/team.html", context, status=400 if invite_form is not None and invite_form.errors else 200)


def _team_action(request: HttpRequest, action, success: str) -> HttpResponse:
    try:
        action()
    except NotFound:
        raise Http404 from None
    except CharlaError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("accounts:team")


@require_POST
@member_required("admin")
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _or_404(selectors.membership_get, account=request.account, membership_id=membership_id)
    form = forms.RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
        return redirect("accounts:team")
    role = form.cleaned_data["role"]
    return _team_action(
        request,
        lambda: services.membership_change_role(actor=request.membership, membership=target, role=role),
        _("%(name)s is now %(role)s.") % {"name": target.user.display_name, "role": dict(form.fields["role"].choices)[role]},
    )


@require_POST
@member_required("admin")
def member_capacity(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _or_404(selectors.membership_get, account=request.account, membership_id=membership_id)
    form = forms.CapacityForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("capacity", [_("Enter a number.")])))
        return redirect("accounts:team")
    capacity = form.cleaned_data["capacity"]
    return _team_action(
        request,
        lambda: services.membership_set_capacity(actor=request.membership, membership=target, capacity=capacity),
        _("%(name)s can now take %(count)d conversations at once.") % {"name": target.user.display_name, "count": capacity},
    )


@require_POST
@member_required("agent")
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _or_404(selectors.membership_get, account=request.account, membership_id=membership_id)
    leaving = target.pk == request.membership.pk
    try:
        services.membership_remove(actor=request.membership, membership=target)
    except NotFound:
        raise Http404 from None
    except CharlaError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:team")
    if leaving:
        request.session.pop(tenancy.SESSION_KEY, None)
        messages.success(request, _("You left %(account)s.") % {"account": target.account.name})
        return redirect("home")
    messages.success(request, _("%(name)s was removed from the team.") % {"name": target.user.display_name})
    return redirect("accounts:team")


@require_POST
@member_required("admin")
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _or_404(selectors.invitation_get, account=request.account, invitation_id=invitation_id)
    return _team_action(
        request,
        lambda: services.invitation_revoke(actor=request.membership, invitation=invitation),
        _("The invitation to %(email)s was revoked.") % {"email": invitation.email},
    )


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = selectors.invitation_get_pending(token=token)
    except NotFound as exc:
        return render(request, "accounts/invitation_invalid.html", {"message": exc.message}, status=404)
    except CharlaError as exc:
        return render(request, "accounts/invitation_invalid.html", {"message": exc.message}, status=410)

    user = request.user
    form = None
    if user.is_authenticated:
        mode = "join" if user.email.lower() == invitation.email.lower() else "wrong_user"
    elif selectors.user_exists(email=invitation.email):
        mode = "login"
        form = forms.InvitationLoginForm(request.POST or None)
    else:
        mode = "signup"
        form = forms.InvitationSignupForm(request.POST or None)

    if request.method == "POST" and mode != "wrong_user":
        try:
            if mode == "join":
                membership = services.invitation_accept(token=token, user=user)
                tenancy.switch_account(request, account_id=membership.account_id)
            elif form.is_valid():
                membership = _accept_logged_out(request, invitation, token, mode, form)
            else:
                membership = None
        except CharlaError as exc:
            if form is None:
                messages.error(request, exc.message)
            else:
                _form_error(form, exc)
            membership = None
        if membership is not None:
            messages.success(request, _("Welcome to %(account)s!") % {"account": membership.account.name})
            return redirect("home")
    context = {"invitation": invitation, "mode": mode, "form": form}
    return render(request, "accounts/invitation_accept.html", context, status=400 if form is not None and form.errors else 200)


def _accept_logged_out(request, invitation, token, mode, form):
    if mode == "signup":
        membership = services.invitation_accept(
            token=token, name=form.cleaned_data["name"], password=form.cleaned_data["password"]
        )
        _log_in(request, membership.user, account_id=membership.account_id)
        return membership
    ip = client_ip(request)
    wait = throttle.retry_after(ip=ip, email=invitation.email)
    if wait:
        form.add_error(None, _throttled_message(wait))
        return None
    user = authenticate(request, email=invitation.email, password=form.cleaned_data["password"])
    if user is None:
        throttle.register_failure(ip=ip, email=invitation.email)
        form.add_error("password", _("Incorrect password."))
        return None
    throttle.reset_email(email=invitation.email)
    membership = services.invitation_accept(token=token, user=user)
    _log_in(request, user, account_id=membership.account_id)
    return membership


# --- profile -----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {"name": user.name, "language": user.language}
    form = forms.ProfileForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_update_profile(
                user=user, name=data["name"], language=data["language"], avatar=data.get("avatar") or None,
                clear_avatar=data.get("clear_avatar", False),
            )
        except CharlaError as exc:
            _form_error(form, exc)
        else:
            with translation.override(data["language"] or translation.get_language()):
                messages.success(request, _("Your profile was saved."))
            return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form}, status=400 if form.errors else 200)


# --- sites -------------------------------------------------------------------------


@member_required("admin")
def sites(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/sites.html", {"sites": selectors.site_list(account=request.account)})


def _site_form_page(request: HttpRequest, site) -> HttpResponse:
    from accounts.models import Site

    is_new = site is None
    instance = Site(account=request.account) if is_new else copy.copy(site)
    form = forms.SiteForm(request.POST or None, request.FILES or None, instance=instance, account=request.account)
    if request.method == "POST" and form.is_valid():
        try:
            if is_new:
                saved = services.site_create(actor=request.membership, **form.service_data())
            else:
                saved = services.site_update(actor=request.membership, site=site, **form.service_data())
        except CharlaError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("“%(name)s” was saved.") % {"name": saved.name})
            return redirect("accounts:site_edit", site_id=saved.pk)
    context = {
        "form": form,
        "site": site,
        "is_new": is_new,
        "snippet_url": settings.PUBLIC_URL + "/widget.js",
    }
    return render(request, "accounts/site_form.html", context, status=400 if form.errors else 200)


@member_required("admin")
@require_http_methods(["GET", "POST"])
def site_new(request: HttpRequest) -> HttpResponse:
    return _site_form_page(request, None)


@member_required("admin")
@require_http_methods(["GET", "POST"])
def site_edit(request: HttpRequest, site_id: int) -> HttpResponse:
    site = _or_404(selectors.site_get, account=request.account, site_id=site_id)
    return _site_form_page(request, site)


@require_POST
@member_required("admin")
def site_rotate_secret(request: HttpRequest, site_id: int) -> HttpResponse:
    site = _or_404(selectors.site_get, account=request.account, site_id=site_id)
    try:
        services.site_rotate_identity_secret(actor=request.membership, site=site)
    except NotFound:
        raise Http404 from None
    except CharlaError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("A new identity secret was generated. Update your server before visitors log in again."))
    return redirect("accounts:site_edit", site_id=site.pk)
