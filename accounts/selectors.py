"""Reads for accounts. Every tenant lookup takes the account first.

A lookup of another tenant's row raises ``NotFound`` exactly like a missing
one (ARCHITECTURE §5).
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account, AgentSession, Invitation, Membership, Site, User
from core.exceptions import NotFound, ValidationError

_ROLE_ORDER = Case(
    *(When(role=role, then=Value(-rank)) for role, rank in Membership.ROLE_RANK.items()),
    output_field=IntegerField(),
)


def membership_list(*, account: Account) -> QuerySet[Membership]:
    """Active members, owners first, then by name."""
    return (
        Membership.objects.filter(account=account, is_active=True)
        .select_related("user")
        .annotate(role_order=_ROLE_ORDER)
        .order_by("role_order", "user__name", "user__email")
    )


def membership_get(*, account: Account, membership_id: int) -> Membership:
    membership = (
        Membership.objects.select_related("user", "account")
        .filter(account=account, pk=membership_id, is_active=True)
        .first()
    )
    if membership is None:
        raise NotFound(_("No such member."))
    return membership


def user_membership_list(*, user: User) -> QuerySet[Membership]:
    """The accounts a user can switch between."""
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user, is_active=True).select_related("account").order_by("account__name")


def invitation_list_pending(*, account: Account) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(account=account, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by")
        .order_by("-created_at")
    )


def invitation_get(*, account: Account, invitation_id: int) -> Invitation:
    invitation = Invitation.objects.select_related("account").filter(account=account, pk=invitation_id).first()
    if invitation is None:
        raise NotFound(_("No such invitation."))
    return invitation


def invitation_get_pending(*, token: str) -> Invitation:
    """The invitation behind an accept link.

    ``NotFound`` for an unknown token; ``ValidationError`` with code ``used``
    or ``expired`` for one that can no longer be accepted.
    """
    invitation = Invitation.objects.select_related("account", "invited_by").filter(token=token or "").first()
    if invitation is None:
        raise NotFound(_("This invitation link is not valid."))
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation has already been used."), code="used")
    if invitation.expires_at <= timezone.now():
        raise ValidationError(
            _("This invitation has expired. Ask your team admin to send you a new one."), code="expired"
        )
    return invitation


def site_list(*, account: Account) -> QuerySet[Site]:
    return Site.objects.filter(account=account).order_by("name", "id")


def site_get(*, account: Account, site_id: int) -> Site:
    site = Site.objects.select_related("account").filter(account=account, pk=site_id).first()
    if site is None:
        raise NotFound(_("No such site."))
    return site


def agent_session_list(*, account: Account, user: User | None = None) -> QuerySet[AgentSession]:
    qs = AgentSession.objects.filter(account=account).select_related("user")
    if user is not None:
        qs = qs.filter(user=user)
    return qs.order_by("-started_at")


def user_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=(email or "").strip()).exists()
