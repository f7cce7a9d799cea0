"""Reads of the campaigns app; every selector takes the account first."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from accounts.models import Account, Membership
from core.exceptions import NotFound

from .models import Campaign


def campaign_list(*, account: Account) -> QuerySet[Campaign]:
    return (
        Campaign.objects.filter(account=account)
        .annotate(
            agent_count=Count("agents", filter=Q(agents__is_active=True), distinct=True),
        )
        .order_by("name")
    )


def campaign_get(*, account: Account, campaign_id: int) -> Campaign:
    try:
        return Campaign.objects.get(account=account, pk=campaign_id)
    except (Campaign.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such campaign.") from None


def campaign_agent_choices(*, account: Account) -> QuerySet[Membership]:
    """Members who can be put on a campaign: the account's active members."""
    return Membership.objects.filter(account=account, is_active=True).select_related("user").order_by("user__name", "id")
