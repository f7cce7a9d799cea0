"""Agent availability and live sockets (multi-device)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership
from core import presence, realtime
from core.exceptions import ValidationError

from .. import events
from . import routing


@transaction.atomic
def member_set_availability(*, membership: Membership, availability: str) -> Membership:
    if availability not in Membership.Availability.values:
        raise ValidationError(_("Unknown availability."), field="availability")
    if membership.availability == availability:
        return membership
    membership.availability = availability
    membership.availability_changed_at = timezone.now()
    membership.save(update_fields=["availability", "availability_changed_at", "updated_at"])
    events.publish_presence_member(membership)
    account_id = membership.account_id
    transaction.on_commit(lambda: routing.member_availability_changed(membership_id=membership.pk, account_id=account_id))
    return membership


def member_connection_opened(*, membership: Membership, channel_name: str) -> None:
    count = presence.connect("member", membership.pk, channel_name)
    if count == 1:
        routing.queue_changed(account_id=membership.account_id)


def member_connection_closed(*, membership: Membership, channel_name: str) -> int:
    return presence.disconnect("member", membership.pk, channel_name)


def member_presence_settle(*, membership: Membership) -> bool:
    """After the reload grace: ``True`` when the agent has no live socket left."""
    gone = presence.live_count("member", membership.pk) == 0
    if gone:
        routing.member_went_offline(membership_id=membership.pk, account_id=membership.account_id)
    return gone


#: Not a client frame: tells a member's agent sockets to read what the member
#: may see again (never forwarded; see ``AgentConsumer.refresh_access``).
ACCESS_CHANGED = "member.access_changed"


def member_access_changed(*, membership_ids) -> None:
    """What these members may see changed (role, campaigns, removal): once
    committed, their open agent sockets read it again and re-join their
    audience groups, so the change applies without a reconnect."""
    ids = sorted({int(mid) for mid in membership_ids if mid})
    if ids:
        realtime.publish_on_commit(
            groups=[realtime.group_member(mid) for mid in ids], event=ACCESS_CHANGED, data={},
            meta={"audience": "internal"},
        )


def _on_membership_changed(sender, *, membership: Membership, fields=(), **kwargs) -> None:
    if "role" in fields:
        member_access_changed(membership_ids=[membership.pk])


def _on_membership_removed(sender, *, membership: Membership, **kwargs) -> None:
    member_access_changed(membership_ids=[membership.pk])


def connect_signals() -> None:
    """Called from ``ConversationsConfig.ready``."""
    from accounts import signals

    signals.membership_changed.connect(_on_membership_changed, dispatch_uid="conversations.member_access.changed")
    signals.membership_removed.connect(_on_membership_removed, dispatch_uid="conversations.member_access.removed")
