"""Auto-assignment: who takes which waiting conversation (docs/routing.md).

One engine, :func:`assign_waiting`, answers "give every waiting conversation
to the least-loaded eligible agent, within capacity". It runs:

* synchronously, in-process, from the hooks below, which the other services
  call on commit whenever the answer may have changed (a conversation queued,
  an agent freed up, came online or connected);
* from the ``routing_sweep`` beat job every few seconds, as a safety net for
  changes no hook sees (a capacity edit, a socket that went stale).

Concurrency: one assigner per account at a time (a transaction-scoped
PostgreSQL advisory lock); inside it the candidate agents' Membership rows
are locked in id order and the waiting conversations with ``SKIP LOCKED``.
A caller that finds the lock busy leaves a "dirty" flag in Redis and
returns; the holder re-checks the flag after committing and runs again, so
no change is ever left unassigned (no lost wake-up).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Account, Membership
from core import presence, realtime

from .. import events
from ..models import Conversation

logger = logging.getLogger(__name__)

#: First key of the two-int advisory lock (the second is the account id).
LOCK_NAMESPACE = 0x43484152  # "CHAR"
#: Waiting conversations considered per pass, and re-runs per call.
BATCH = 200
MAX_ROUNDS = 20
#: The contact-facing queue position is published for the first N of each lane.
POSITION_LIMIT = 50
LOADED_STATUSES = (Conversation.Status.ASSIGNED, Conversation.Status.SNOOZED)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Assignment:
    conversation_id: int
    membership_id: int
    reason: str


# --- Hooks (called on commit by the other services) ---------------------------------


def _safely(fn: Callable[[], object], what: str) -> None:
    """Hooks run in on-commit callbacks and socket handlers: never raise there.
    Inside a transaction they wait for its commit (the state they react to must
    be visible to the assigner)."""

    def run() -> None:
        try:
            fn()
        except Exception:  # the beat sweep repairs what a failed hook missed
            logger.exception("routing hook failed", extra={"hook": what})

    if connection.in_atomic_block:
        transaction.on_commit(run)
    else:
        run()


def queue_changed(*, account_id: int) -> None:
    """Something entered the queue, or an agent freed up or connected."""
    _safely(lambda: assign_waiting(account_id=account_id), "queue_changed")


def member_availability_changed(*, membership_id: int, account_id: int) -> None:
    def run() -> None:
        availability = Membership.objects.filter(pk=membership_id).values_list("availability", flat=True).first()
        if availability == Membership.Availability.ONLINE:
            _clear_gone(membership_id)
            assign_waiting(account_id=account_id)
        else:
            _schedule_offline_check(membership_id=membership_id, account_id=account_id)

    _safely(run, "member_availability_changed")


def member_went_offline(*, membership_id: int, account_id: int) -> None:
    """The agent's last socket closed (after the reload grace)."""

    def run() -> None:
        cache.set(_gone_key(membership_id), timezone.now().timestamp(), timeout=24 * 3600)
        _schedule_offline_check(membership_id=membership_id, account_id=account_id)

    _safely(run, "member_went_offline")


# --- The assigner ------------------------------------------------------------------


def _dirty_key(account_id: int) -> str:
    return f"routing:dirty:{account_id}"


def _positions_key(account_id: int) -> str:
    return f"routing:positions:{account_id}"


def _gone_key(membership_id: int) -> str:
    return f"routing:gone:{membership_id}"


def _clear_gone(membership_id: int) -> None:
    cache.delete(_gone_key(membership_id))


def _try_lock(account_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, account_id])
        return bool(cursor.fetchone()[0])


def assign_waiting(*, account_id: int) -> list[Assignment]:
    """Assign every waiting conversation of the account that someone can take.

    Safe to call from anywhere, any number of times, concurrently: never over
    capacity, never twice, and a call that finds another assigner running is
    picked up by it (see the module docstring).
    """
    made: list[Assignment] = []
    for _round in range(MAX_ROUNDS):
        cache.set(_dirty_key(account_id), 1, timeout=300)
        with transaction.atomic():
            if not _try_lock(account_id):
                return made  # the holder sees the dirty flag after its commit
            cache.delete(_dirty_key(account_id))
            made += _assign_batch(account_id)
            _publish_positions(account_id)
        if not cache.get(_dirty_key(account_id)):
            return made
    return made  # still busy: the beat sweep picks up the rest


@dataclass
class _Pool:
    """The account's assignable agents, locked, with their current load."""

    members: dict[int, Membership]
    load: dict[int, int]
    campaign_agents: dict[int, set[int]]

    def open_for(self, conversation: Conversation, *, exclude: Iterable[int] = ()) -> list[Membership]:
        if conversation.campaign_id is None:
            ids: Iterable[int] = self.members
        else:
            ids = self.campaign_agents.get(conversation.campaign_id, ())
        excluded = set(exclude)
        return [
            self.members[mid]
            for mid in ids
            if mid in self.members and mid not in excluded and self.load[mid] < self.members[mid].capacity
        ]

    @property
    def has_room(self) -> bool:
        return any(self.load[mid] < m.capacity for mid, m in self.members.items())


def _lock_pool(account_id: int, campaign_ids: set[int]) -> _Pool | None:
    """Online, active, capacity > 0, with a live socket; rows locked in id order."""
    candidate_ids = list(
        Membership.objects.filter(
            account_id=account_id, is_active=True, availability=Membership.Availability.ONLINE, capacity__gt=0
        ).values_list("id", flat=True)
    )
    live = presence.live_subjects("member", candidate_ids)
    if not live:
        return None
    members = {
        m.pk: m
        # FOR NO KEY UPDATE: serializes with capacity/availability writes, yet
        # lets an agent's message insert (an FK check, KEY SHARE) go through.
        for m in Membership.objects.select_for_update(of=("self",), no_key=True)
        .select_related("user")
        .filter(pk__in=live, is_active=True, availability=Membership.Availability.ONLINE, capacity__gt=0)
        .order_by("id")
    }
    if not members:
        return None
    load = defaultdict(int)
    for row in (
        Conversation.objects.filter(account_id=account_id, assignee_id__in=list(members), status__in=LOADED_STATUSES)
        .values("assignee_id")
        .annotate(n=Count("id"))
    ):
        load[row["assignee_id"]] = row["n"]
    campaign_agents: dict[int, set[int]] = defaultdict(set)
    if campaign_ids:
        through = Membership.campaigns.through
        for campaign_id, membership_id in through.objects.filter(
            campaign_id__in=campaign_ids, membership_id__in=list(members)
        ).values_list("campaign_id", "membership_id"):
            campaign_agents[campaign_id].add(membership_id)
    return _Pool(members=members, load=load, campaign_agents=campaign_agents)


def _last_agents(account_id: int, conversations: list[Conversation]) -> dict[int, int]:
    """contact id → the member who had the contact's latest other conversation."""
    contact_ids = {c.contact_id for c in conversations}
    if not contact_ids:
        return {}
    rows = (
        Conversation.objects.filter(account_id=account_id, contact_id__in=contact_ids, assignee__isnull=False)
        .exclude(pk__in=[c.pk for c in conversations])
        .order_by("contact_id", "-created_at", "-id")
        .distinct("contact_id")
        .values_list("contact_id", "assignee_id")
    )
    return dict(rows)


def _choose(pool: _Pool, open_pool: list[Membership], preferred_id: int | None) -> tuple[Membership, str]:
    count = len(open_pool)
    if preferred_id is not None:
        for member in open_pool:
            if member.pk == preferred_id:
                return member, _("last agent of this contact: %(load)d/%(capacity)d among %(count)d eligible") % {
                    "load": pool.load[member.pk], "capacity": member.capacity, "count": count,
                }
    # Least loaded; tie → longest since their last assignment (never assigned first).
    member = min(open_pool, key=lambda m: (pool.load[m.pk], m.last_assigned_at or EPOCH, m.pk))
    return member, _("least loaded: %(load)d/%(capacity)d among %(count)d eligible") % {
        "load": pool.load[member.pk], "capacity": member.capacity, "count": count,
    }


def _assign(conversation: Conversation, member: Membership, reason: str, pool: _Pool, now: datetime) -> Assignment:
    from .conversations import conversation_assign

    conversation_assign(conversation=conversation, assignee=member, by=None, reason=reason[:300])
    pool.load[member.pk] += 1
    member.last_assigned_at = now
    return Assignment(conversation.pk, member.pk, reason)


def _assign_batch(account_id: int) -> list[Assignment]:
    """One pass, inside the caller's transaction and advisory lock."""
    heads = list(
        Conversation.objects.filter(account_id=account_id, status=Conversation.Status.QUEUED, assignee__isnull=True)
        .order_by("-priority", "queued_at", "id")
        .values_list("id", "campaign_id")[:BATCH]
    )
    if not heads:
        return []
    pool = _lock_pool(account_id, {campaign_id for _pk, campaign_id in heads if campaign_id})
    if pool is None:
        return []
    account = Account.objects.only("locale", "prefer_last_agent").get(pk=account_id)
    waiting = list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=[pk for pk, _campaign in heads], status=Conversation.Status.QUEUED, assignee__isnull=True)
        .order_by("-priority", "queued_at", "id")
    )
    last_agents = _last_agents(account_id, waiting) if account.prefer_last_agent else {}
    now = timezone.now()
    made: list[Assignment] = []
    with translation.override(account.locale):
        for conversation in waiting:
            if not pool.has_room:
                break
            open_pool = pool.open_for(conversation)
            if not open_pool:
                continue
            member, reason = _choose(pool, open_pool, last_agents.get(conversation.contact_id))
            made.append(_assign(conversation, member, reason, pool, now))
    return made


# --- Queue positions (contact-facing) ------------------------------------------------


def _lane_order():
    return [F("priority").desc(), F("queued_at").asc(nulls_last=True), F("id").asc()]


def queue_position_for(conversation: Conversation) -> int | None:
    """1-based place in line among the waiting conversations of the same lane
    (same campaign, or no campaign); None when not waiting."""
    if conversation.status != Conversation.Status.QUEUED or conversation.assignee_id is not None:
        return None
    rows = (
        Conversation.objects.filter(
            account_id=conversation.account_id,
            status=Conversation.Status.QUEUED,
            assignee__isnull=True,
            campaign_id=conversation.campaign_id,
        )
        .annotate(position=Window(RowNumber(), order_by=_lane_order()))
        .values_list("id", "position")
    )
    return dict(rows).get(conversation.pk)


def _publish_positions(account_id: int) -> None:
    """Tell each waiting visitor (first POSITION_LIMIT of each lane) their place
    in line when it changed since the last pass."""
    current = dict(
        Conversation.objects.filter(account_id=account_id, status=Conversation.Status.QUEUED, assignee__isnull=True)
        .annotate(position=Window(RowNumber(), partition_by=[F("campaign_id")], order_by=_lane_order()))
        .filter(position__lte=POSITION_LIMIT)
        .values_list("id", "position")
    )
    previous = cache.get(_positions_key(account_id)) or {}
    changed = {cid: pos for cid, pos in current.items() if previous.get(cid) != pos}
    if current != previous:
        cache.set(_positions_key(account_id), current, timeout=24 * 3600)
    if not changed:
        return
    for conversation in Conversation.objects.filter(pk__in=list(changed)).select_related("assignee__user"):
        realtime.publish_on_commit(
            groups=[realtime.group_contact(conversation.contact_id)],
            event="conversation.updated",
            data={"conversation": events.conversation_data_for_contact(conversation, queue_position=changed[conversation.pk])},
            meta={**events.conversation_meta(conversation), "audience": "contact"},
        )


# --- Agents going away -------------------------------------------------------------------


def _schedule_offline_check(*, membership_id: int, account_id: int) -> None:
    settings_row = Account.objects.filter(pk=account_id).values("offline_reassign", "offline_grace_seconds").first()
    if settings_row is None or settings_row["offline_reassign"] != Account.OfflineReassign.REQUEUE:
        return
    grace = settings_row["offline_grace_seconds"]
    if grace <= 0:
        member_offline_check(membership_id=membership_id)
        return
    from ..tasks import member_offline_check_task

    member_offline_check_task.apply_async((membership_id,), countdown=grace)


def member_offline_check(*, membership_id: int, now: datetime | None = None) -> list[int]:
    """Runs ``offline_grace_seconds`` after an agent went away or lost their last
    socket. If they are still gone and the account says so, their assigned
    conversations go back to the queue (and get routed to someone else).
    Returns the ids sent back."""
    now = now or timezone.now()
    member = Membership.objects.select_related("account", "user").filter(pk=membership_id).first()
    if member is None:
        return []
    account = member.account
    if account.offline_reassign != Account.OfflineReassign.REQUEUE:
        return []
    grace = timedelta(seconds=account.offline_grace_seconds)
    if not member.is_active:
        why = _("removed from the team")
    elif member.availability != Membership.Availability.ONLINE:
        if member.availability_changed_at and member.availability_changed_at + grace > now:
            return []  # changed again meanwhile; the check of that change decides
        why = member.get_availability_display()
    else:
        if presence.live_count("member", member.pk):
            _clear_gone(member.pk)
            return []
        gone_since = cache.get(_gone_key(member.pk))
        if gone_since and datetime.fromtimestamp(gone_since, tz=UTC) + grace > now:
            return []
        why = _("disconnected")
    return _requeue_member(member, why=why)


def _requeue_member(member: Membership, *, why: str) -> list[int]:
    from .conversations import conversation_unassign

    ids = list(
        Conversation.objects.filter(
            account_id=member.account_id, assignee_id=member.pk, status=Conversation.Status.ASSIGNED
        ).values_list("id", flat=True)
    )
    if not ids:
        return []
    with translation.override(member.account.locale):
        reason = _("%(name)s went offline (%(why)s): back to the queue") % {"name": member.user.display_name, "why": why}
    done = []
    with transaction.atomic():
        for conversation in Conversation.objects.filter(pk__in=ids).order_by("id"):
            updated = conversation_unassign(conversation=conversation, by=None, reason=reason[:300])
            if updated.assignee_id is None:
                done.append(conversation.pk)
    _clear_gone(member.pk)
    return done


def offline_sweep(*, now: datetime | None = None) -> list[int]:
    """Safety net for lost countdown tasks and sockets that died without a
    goodbye: agents holding assigned conversations who are away/offline, or
    "online" with no live socket, for longer than the grace."""
    now = now or timezone.now()
    assignee_ids = set(
        Conversation.objects.filter(
            status=Conversation.Status.ASSIGNED,
            account__offline_reassign=Account.OfflineReassign.REQUEUE,
            assignee__isnull=False,
        )
        .values_list("assignee_id", flat=True)
        .distinct()
    )
    if not assignee_ids:
        return []
    members = list(Membership.objects.filter(pk__in=assignee_ids).select_related("account"))
    live = presence.live_subjects("member", [m.pk for m in members if m.availability == Membership.Availability.ONLINE])
    done: list[int] = []
    for member in members:
        grace = timedelta(seconds=member.account.offline_grace_seconds)
        if member.is_active and member.availability == Membership.Availability.ONLINE:
            if member.pk in live:
                _clear_gone(member.pk)
                continue
            cache.add(_gone_key(member.pk), now.timestamp(), timeout=24 * 3600)
            gone_since = cache.get(_gone_key(member.pk)) or now.timestamp()
            if datetime.fromtimestamp(gone_since, tz=UTC) + grace > now:
                continue
        elif member.is_active and member.availability_changed_at and member.availability_changed_at + grace > now:
            continue
        try:
            done += member_offline_check(membership_id=member.pk, now=now)
        except Exception:
            logger.exception("offline sweep failed", extra={"membership_id": member.pk})
    return done


# --- No reply from the assignee ------------------------------------------------------------


def reassign_unreplied(*, now: datetime | None = None) -> list[Assignment]:
    """``Account.reassign_unreplied_minutes`` (0 = off): a conversation whose
    assignee has not replied that long after the customer's message (and after
    being assigned) moves to another eligible agent. If nobody else can take it,
    it stays where it is (sending it to the queue would only hand it back to the
    same agent)."""
    now = now or timezone.now()
    made: list[Assignment] = []
    for account in Account.objects.filter(reassign_unreplied_minutes__gt=0):
        threshold = now - timedelta(minutes=account.reassign_unreplied_minutes)
        stale = list(
            Conversation.objects.filter(
                account_id=account.pk,
                status=Conversation.Status.ASSIGNED,
                awaiting_reply_since__lte=threshold,
                assigned_at__lte=threshold,
            )
            .order_by("-priority", "awaiting_reply_since", "id")
            .values_list("id", flat=True)[:BATCH]
        )
        for conversation_id in stale:
            try:
                assignment = _reassign_one(account, conversation_id, threshold)
            except Exception:
                logger.exception("reassign failed", extra={"conversation_id": conversation_id})
                continue
            if assignment:
                made.append(assignment)
    return made


def _reassign_one(account: Account, conversation_id: int, threshold: datetime) -> Assignment | None:
    from .conversations import conversation_unassign

    with transaction.atomic():
        if not _try_lock(account.pk):
            return None  # the assigner is busy; the next run retries
        conversation = (
            Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("assignee__user")
            .filter(
                pk=conversation_id,
                status=Conversation.Status.ASSIGNED,
                awaiting_reply_since__lte=threshold,
                assigned_at__lte=threshold,
            )
            .first()
        )
        if conversation is None or conversation.assignee is None:
            return None
        previous = conversation.assignee
        pool = _lock_pool(account.pk, {conversation.campaign_id} if conversation.campaign_id else set())
        if pool is None:
            return None
        open_pool = pool.open_for(conversation, exclude=[previous.pk])
        if not open_pool:
            return None
        with translation.override(account.locale):
            member, reason = _choose(pool, open_pool, None)
            why = _("%(name)s did not reply within %(minutes)d min") % {
                "name": previous.user.display_name, "minutes": account.reassign_unreplied_minutes,
            }
            conversation_unassign(conversation=conversation, by=None, reason=why[:300])
            conversation.refresh_from_db()
            return _assign(conversation, member, f"{why}; {reason}", pool, timezone.now())
