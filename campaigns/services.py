"""Campaign writes: create, update, choose agents (call-center seed).

A campaign's agents are the only ones the router gives its conversations to
(docs/routing.md). Changing them may let waiting conversations through, so
the router runs on commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import Account, Membership
from conversations.services import member_access_changed, routing
from core.exceptions import PermissionDenied, ValidationError

from .models import Campaign

EDITABLE = ("name", "active", "sla_unanswered_minutes", "auto_close_hours", "closing_message")


def _check_actor(actor: Membership | None, account_id: int) -> None:
    if actor is not None and (actor.account_id != account_id or not actor.is_admin):
        raise PermissionDenied(_("Only admins can manage campaigns."))


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError(_("Unknown field: %(field)s") % {"field": sorted(unknown)[0]})
    clean = dict(fields)
    if "name" in clean:
        clean["name"] = (clean["name"] or "").strip()
        if not clean["name"]:
            raise ValidationError(_("A campaign needs a name."), field="name")
        if len(clean["name"]) > 120:
            raise ValidationError(_("The name is too long (120 characters at most)."), field="name")
    for name, most in (("sla_unanswered_minutes", 7 * 24 * 60), ("auto_close_hours", 24 * 90)):
        if name in clean and clean[name] is not None:
            try:
                value = int(clean[name])
            except (TypeError, ValueError):
                raise ValidationError(_("Enter a whole number."), field=name) from None
            if not 0 <= value <= most:
                raise ValidationError(_("Enter a number between 0 and %(most)d.") % {"most": most}, field=name)
            clean[name] = value
    if "closing_message" in clean:
        clean["closing_message"] = (clean["closing_message"] or "").strip()
        if len(clean["closing_message"]) > 1000:
            raise ValidationError(_("The closing message is too long (1000 characters at most)."), field="closing_message")
    return clean


def _save(campaign: Campaign, fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            campaign.save(update_fields=fields)
    except IntegrityError:
        raise ValidationError(_("A campaign with that name already exists."), field="name") from None


@transaction.atomic
def campaign_create(
    *,
    account: Account,
    name: str,
    actor: Membership | None = None,
    active: bool = True,
    sla_unanswered_minutes: int | None = None,
    auto_close_hours: int | None = None,
    closing_message: str = "",
) -> Campaign:
    _check_actor(actor, account.pk)
    data = _clean(
        {
            "name": name, "active": active, "sla_unanswered_minutes": sla_unanswered_minutes,
            "auto_close_hours": auto_close_hours, "closing_message": closing_message,
        }
    )
    campaign = Campaign(account=account, **data)
    _save(campaign)
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor: Membership | None = None, **fields: Any) -> Campaign:
    _check_actor(actor, campaign.account_id)
    data = _clean(fields)
    for name, value in data.items():
        setattr(campaign, name, value)
    if data:
        _save(campaign, [*data, "updated_at"])
        account_id = campaign.account_id
        transaction.on_commit(lambda: routing.queue_changed(account_id=account_id))
    return campaign


@transaction.atomic
def campaign_set_agents(
    *, campaign: Campaign, membership_ids: Iterable[Any], actor: Membership | None = None
) -> list[Membership]:
    """Make exactly these members the campaign's agents. Every id must be an
    active member of the campaign's account."""
    _check_actor(actor, campaign.account_id)
    try:
        ids = {int(i) for i in membership_ids}
    except (TypeError, ValueError):
        raise ValidationError(_("Agents must be member ids."), field="agents") from None
    members = list(Membership.objects.filter(account_id=campaign.account_id, is_active=True, pk__in=ids))
    if len(members) != len(ids):
        raise ValidationError(_("Agents must be active members of this account."), field="agents")
    before = set(campaign.agents.values_list("pk", flat=True))
    campaign.agents.set(members)
    # Who joined or left sees other conversations now, on their open sockets too.
    member_access_changed(membership_ids=before ^ ids)
    account_id = campaign.account_id
    transaction.on_commit(lambda: routing.queue_changed(account_id=account_id))
    return members
