"""Writes for accounts: signup, invitations, team, profile, sites, sessions.

Every function is keyword-only, runs in one transaction and raises
``core.exceptions`` errors (``ValidationError``, ``PermissionDenied``,
``NotFound``) that views and API views turn into messages or 4xx answers.
Role rules live here, not in views:

- only owners and admins manage the team and the sites;
- only an owner may make someone an owner or change an owner's role;
- an account always keeps at least one active owner;
- ``User.is_staff`` follows "owner or admin somewhere" so tenant admins can use
  ``/admin/`` (scoped by ``accounts.admin.TenantAdminMixin``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts import signals
from accounts.models import Account, AgentSession, Invitation, Membership, Site, User
from core.exceptions import NotFound, PermissionDenied, ValidationError

Role = Membership.Role

_HOST_RE = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


# --- helpers ------------------------------------------------------------------


def normalize_domain(value: str) -> str:
    """``https://www.Shop.com:443/path`` → ``www.shop.com``; ``*.shop.com`` kept.

    Raises ``ValidationError`` for anything that is not a host name.
    """
    host = (value or "").strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host)
    host = host.split("/")[0].split("?")[0].split("#")[0]
    host = host.rsplit("@", 1)[-1].split(":")[0].rstrip(".")
    if not host or len(host) > 253 or not _HOST_RE.match(host):
        raise ValidationError(_("“%(value)s” is not a valid domain.") % {"value": value}, field="site_domain")
    return host


def _validate_password(password: str, user: User | None = None, *, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationError(" ".join(exc.messages), field=field) from None


def _normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationError(_("Enter a valid email address."), field="email") from None
    return email


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "team"
    slug, n = base, 2
    while Account.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


def _require_admin(actor: Membership, account: Account) -> None:
    if actor is None or actor.account_id != account.pk or not actor.is_active:
        raise NotFound(_("No such member."))
    if not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("Only owners and admins can manage the team."))


def _active_owner_count(account_id: int) -> int:
    return Membership.objects.filter(account_id=account_id, role=Role.OWNER, is_active=True).count()


def user_sync_staff(*, user: User) -> User:
    """``is_staff`` iff superuser or active owner/admin of some account.

    Staff status given by hand to a user with explicit groups or permissions
    (an operator) is never taken away here.
    """
    is_tenant_admin = Membership.objects.filter(
        user=user, is_active=True, role__in=[Role.OWNER, Role.ADMIN]
    ).exists()
    wanted = user.is_superuser or is_tenant_admin
    if not wanted and user.is_staff and (user.groups.exists() or user.user_permissions.exists()):
        return user
    if user.is_staff != wanted:
        user.is_staff = wanted
        user.save(update_fields=["is_staff"])
    return user


# --- signup -------------------------------------------------------------------


@transaction.atomic
def account_create(
    *, user: User, company_name: str, site_domain: str, site_name: str = "", language: str = ""
) -> Membership:
    """A new account owned by ``user``, with its first site."""
    company_name = (company_name or "").strip()
    if not company_name:
        raise ValidationError(_("Enter your company name."), field="company_name")
    domain = normalize_domain(site_domain)
    account = Account.objects.create(
        name=company_name, slug=_unique_slug(company_name), locale=language or settings.LANGUAGE_CODE
    )
    membership = Membership.objects.create(
        account=account,
        user=user,
        role=Role.OWNER,
        availability=Membership.Availability.ONLINE,
        availability_changed_at=timezone.now(),
    )
    Site.objects.create(account=account, name=(site_name or "").strip() or domain, allowed_domains=[domain])
    user_sync_staff(user=user)
    return membership


@transaction.atomic
def account_signup(
    *,
    company_name: str,
    name: str,
    email: str,
    password: str,
    site_name: str = "",
    site_domain: str,
    language: str = "",
) -> Membership:
    """Create a company: its account, the owner user, the owner's seat and the first site."""
    email = _normalize_email(email)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            _("An account with this email already exists. Log in to create another company."), field="email"
        )
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Enter your name."), field="name")
    candidate = User(email=email, name=name)
    _validate_password(password, candidate)
    normalize_domain(site_domain)  # fail before anything is written
    user = User.objects.create_user(email=email, password=password, name=name, language=language or "")
    return account_create(
        user=user, company_name=company_name, site_domain=site_domain, site_name=site_name, language=language
    )


# --- invitations --------------------------------------------------------------


def invitation_accept_url(invitation: Invitation) -> str:
    return settings.PUBLIC_URL + reverse("accounts:invitation_accept", kwargs={"token": invitation.token})


@transaction.atomic
def invitation_create(*, account: Account, invited_by: User, email: str, role: str) -> Invitation:
    """Invite ``email`` to ``account`` and email them an accept link.

    Re-inviting an email that has an unaccepted invitation replaces it (the old
    link stops working). Emails that already hold a seat are refused.
    """
    actor = Membership.objects.filter(account=account, user=invited_by, is_active=True).first()
    _require_admin(actor, account)
    email = _normalize_email(email)
    if role not in Role.values:
        raise ValidationError(_("Choose a valid role."), field="role")
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied(_("Only owners can invite another owner."))
    if Membership.objects.filter(account=account, user__email__iexact=email, is_active=True).exists():
        raise ValidationError(_("%(email)s is already a member of this team.") % {"email": email}, field="email")
    Invitation.objects.filter(account=account, email__iexact=email, accepted_at__isnull=True).delete()
    invitation = Invitation.objects.create(
        account=account,
        email=email,
        role=role,
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    from accounts.emails import invitation_send_email

    invitation_id = invitation.pk
    transaction.on_commit(lambda: invitation_send_email(invitation_id=invitation_id))
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: Membership, invitation: Invitation) -> None:
    _require_admin(actor, invitation.account)
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation was already accepted."))
    invitation.delete()


@transaction.atomic
def invitation_accept(
    *, token: str, user: User | None = None, name: str | None = None, password: str | None = None
) -> Membership:
    """Join the invitation's account.

    ``user`` (already authenticated, same email as the invitation) joins
    directly. Without ``user`` a new user is created from ``name`` and
    ``password``; if the email already has a user, it must log in first
    (``ValidationError`` with code ``login_required``).
    """
    invitation = (
        Invitation.objects.select_for_update().select_related("account").filter(token=token or "").first()
    )
    if invitation is None:
        raise NotFound(_("This invitation link is not valid."))
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation has already been used."), code="used")
    if invitation.expires_at <= timezone.now():
        raise ValidationError(
            _("This invitation has expired. Ask your team admin to send you a new one."), code="expired"
        )

    if user is not None:
        if user.email.lower() != invitation.email.lower():
            raise PermissionDenied(
                _("This invitation was sent to %(email)s. Log in with that email to accept it.")
                % {"email": invitation.email}
            )
    else:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError(
                _("You already have a Charla account. Log in to accept the invitation."), code="login_required"
            )
        name = (name or "").strip()
        if not name:
            raise ValidationError(_("Enter your name."), field="name")
        _validate_password(password or "", User(email=invitation.email, name=name))
        user = User.objects.create_user(email=invitation.email, password=password, name=name)

    membership = Membership.objects.filter(account=invitation.account, user=user).first()
    if membership is None:
        membership = Membership.objects.create(account=invitation.account, user=user, role=invitation.role)
    elif not membership.is_active:
        membership.is_active = True
        membership.role = invitation.role
        membership.availability = Membership.Availability.OFFLINE
        membership.save(update_fields=["is_active", "role", "availability", "updated_at"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    user_sync_staff(user=user)
    return membership


# --- team ---------------------------------------------------------------------


@transaction.atomic
def membership_change_role(*, actor: Membership, membership: Membership, role: str) -> Membership:
    _require_admin(actor, membership.account)
    if membership.account_id != actor.account_id or not membership.is_active:
        raise NotFound(_("No such member."))
    if role not in Role.values:
        raise ValidationError(_("Choose a valid role."), field="role")
    if role == membership.role:
        return membership
    if Role.OWNER in (role, membership.role) and actor.role != Role.OWNER:
        raise PermissionDenied(_("Only owners can make someone an owner or change an owner's role."))
    # Lock the account's owners so two concurrent demotions cannot both pass.
    list(Membership.objects.select_for_update().filter(account_id=membership.account_id, role=Role.OWNER))
    if membership.role == Role.OWNER and _active_owner_count(membership.account_id) <= 1:
        raise ValidationError(_("The team needs at least one owner. Make someone else an owner first."))
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    user_sync_staff(user=membership.user)
    signals.membership_changed.send(sender=Membership, membership=membership, fields=["role"])
    return membership


@transaction.atomic
def membership_set_capacity(*, actor: Membership, membership: Membership, capacity: int) -> Membership:
    _require_admin(actor, membership.account)
    if membership.account_id != actor.account_id or not membership.is_active:
        raise NotFound(_("No such member."))
    if not isinstance(capacity, int) or not 0 <= capacity <= 100:
        raise ValidationError(_("Capacity must be between 0 and 100."), field="capacity")
    membership.capacity = capacity
    membership.save(update_fields=["capacity", "updated_at"])
    signals.membership_changed.send(sender=Membership, membership=membership, fields=["capacity"])
    return membership


@transaction.atomic
def membership_remove(*, actor: Membership, membership: Membership) -> None:
    """Take a seat away (members may also leave on their own).

    The row stays, inactive, so history (assignments, reports) keeps its
    agent; inviting the same email again reactivates it.
    """
    if membership.account_id != actor.account_id or not membership.is_active:
        raise NotFound(_("No such member."))
    if actor.pk != membership.pk:
        _require_admin(actor, membership.account)
        if membership.role == Role.OWNER and actor.role != Role.OWNER:
            raise PermissionDenied(_("Only owners can remove an owner."))
    list(Membership.objects.select_for_update().filter(account_id=membership.account_id, role=Role.OWNER))
    if membership.role == Role.OWNER and _active_owner_count(membership.account_id) <= 1:
        raise ValidationError(_("The team needs at least one owner. Make someone else an owner first."))
    membership.is_active = False
    membership.availability = Membership.Availability.OFFLINE
    membership.availability_changed_at = timezone.now()
    membership.save(update_fields=["is_active", "availability", "availability_changed_at", "updated_at"])
    user_sync_staff(user=membership.user)
    signals.membership_removed.send(sender=Membership, membership=membership)


# --- profile ------------------------------------------------------------------


@transaction.atomic
def user_update_profile(*, user: User, name: str, language: str, avatar: Any = None, clear_avatar: bool = False) -> User:
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Enter your name."), field="name")
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError(_("Choose a valid language."), field="language")
    user.name = name
    user.language = language or ""
    fields = ["name", "language"]
    if avatar is not None:
        user.avatar = avatar
        fields.append("avatar")
    elif clear_avatar and user.avatar:
        user.avatar.delete(save=False)
        user.avatar = ""
        fields.append("avatar")
    user.save(update_fields=fields)
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError(_("Choose a valid language."), field="language")
    user.language = language or ""
    user.save(update_fields=["language"])
    return user


# --- sites --------------------------------------------------------------------

SITE_FIELDS = (
    "name", "allowed_domains", "color_primary", "color_text", "logo", "team_name", "greeting",
    "offline_message", "reply_time_text", "locale", "timezone", "business_hours", "holidays",
    "require_identity", "default_campaign",
)


def _site_apply(site: Site, data: dict[str, Any]) -> None:
    unknown = set(data) - set(SITE_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown site fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if "allowed_domains" in data:
        domains = []
        for value in data["allowed_domains"] or []:
            try:
                host = normalize_domain(value)
            except ValidationError as exc:
                raise ValidationError(exc.message, field="allowed_domains") from None
            if host not in domains:
                domains.append(host)
        data["allowed_domains"] = domains
    campaign = data.get("default_campaign")
    if campaign is not None and campaign.account_id != site.account_id:
        raise ValidationError(_("That campaign belongs to another account."), field="default_campaign")
    for key, value in data.items():
        setattr(site, key, value)
    try:
        site.full_clean()
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationError(" ".join(messages), field=None if field == "__all__" else field) from None


@transaction.atomic
def site_create(*, actor: Membership, **data: Any) -> Site:
    _require_admin(actor, actor.account)
    site = Site(account=actor.account)
    _site_apply(site, data)
    site.save()
    return site


@transaction.atomic
def site_update(*, actor: Membership, site: Site, **data: Any) -> Site:
    _require_admin(actor, site.account)
    if site.account_id != actor.account_id:
        raise NotFound(_("No such site."))
    _site_apply(site, data)
    site.save()
    return site


@transaction.atomic
def site_rotate_identity_secret(*, actor: Membership, site: Site) -> Site:
    """A new identity secret: hashes made with the old one stop verifying."""
    _require_admin(actor, site.account)
    if site.account_id != actor.account_id:
        raise NotFound(_("No such site."))
    from accounts.models import _new_secret

    site.identity_secret = _new_secret()
    site.save(update_fields=["identity_secret", "updated_at"])
    return site


# --- agent sessions -------------------------------------------------------------


def _session_alive(session_key: str) -> bool:
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    store.load()  # an expired or deleted session resets its key to None
    return store.session_key is not None


@transaction.atomic
def agent_session_close_expired(*, user: User, keep_session_key: str = "") -> int:
    """Close the user's open sessions whose Django session is gone or expired.

    Nothing runs at the moment a session cookie expires, so such rows are
    closed lazily at the user's next login with reason ``expired``; their end
    time is when the session would have expired (start + SESSION_COOKIE_AGE,
    never later than now), an upper bound of the real end.
    """
    now = timezone.now()
    age = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    closed = 0
    for row in AgentSession.objects.select_for_update().filter(user=user, ended_at__isnull=True):
        if row.session_key and row.session_key == keep_session_key:
            continue
        if _session_alive(row.session_key):
            continue  # still logged in on another device
        row.ended_at = min(now, row.started_at + age)
        row.end_reason = AgentSession.EndReason.EXPIRED
        row.save(update_fields=["ended_at", "end_reason", "updated_at"])
        closed += 1
    return closed


@transaction.atomic
def agent_session_start(
    *, user: User, account: Account | None, session_key: str, ip: str | None = None, user_agent: str = ""
) -> AgentSession:
    agent_session_close_expired(user=user, keep_session_key=session_key)
    return AgentSession.objects.create(
        user=user, account=account, session_key=session_key or "", ip=ip or None, user_agent=(user_agent or "")[:400]
    )


@transaction.atomic
def agent_session_switch(
    *, user: User, account_id: int, session_key: str, ip: str | None = None, user_agent: str = ""
) -> AgentSession | None:
    """The same login moves to account ``account_id`` (the caller checked the
    membership): the row of the account left ends
    (``switched``) and a row for the new one starts, so time logged in is
    counted per account. Nothing when the session has no open row (an
    anonymous or pre-tracking session) or is already in that account."""
    if not session_key:
        return None
    open_rows = AgentSession.objects.select_for_update().filter(user=user, session_key=session_key, ended_at__isnull=True)
    rows = list(open_rows)
    if not rows or all(row.account_id == account_id for row in rows):
        return None
    now = timezone.now()
    open_rows.update(ended_at=now, end_reason=AgentSession.EndReason.SWITCHED, updated_at=now)
    return AgentSession.objects.create(
        user=user, account_id=account_id, session_key=session_key, started_at=now, ip=ip or None,
        user_agent=(user_agent or "")[:400],
    )


@transaction.atomic
def agent_session_end(*, user: User, session_key: str, reason: str = AgentSession.EndReason.LOGOUT) -> int:
    if not session_key:
        return 0
    return AgentSession.objects.filter(user=user, session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason, updated_at=timezone.now()
    )
