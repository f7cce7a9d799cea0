"""The "unanswered" SLA: how long a customer waits for an agent's reply.

The clock starts at the customer's oldest unanswered message
(``awaiting_reply_since``; for a conversation that reached the human queue
later — a bot hand-off — at ``queued_at``) and stops at the next agent reply
(``message_send`` clears ``awaiting_reply_since`` and resets the alert stamps,
which opens a new episode). Bot replies and private notes don't stop it.

The target is the campaign's ``sla_unanswered_minutes`` or the account's
(0 = no SLA). With ``Account.sla_business_hours_only`` the clock only runs
while the conversation's site is open (its business hours, holidays and time
zone); without a site or without hours it is wall-clock time.

:func:`sla_check` (beat, every 15 s) sends a warning at 80 % and a breach alert
at 100 %, each at most once per episode: the stamp is set by a conditional
``UPDATE … WHERE sla_breached_at IS NULL AND awaiting_reply_since = <seen>``,
so two workers can never both send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import WEEKDAYS, Membership
from core import realtime

from .. import events, facts
from ..models import Conversation, Notification

logger = logging.getLogger(__name__)

WARNING_RATIO = 0.8
#: Statuses where a customer waits for a human. A conversation with the bot is not
#: waiting for an agent yet; its clock starts when it reaches the queue.
SLA_STATUSES = (Conversation.Status.QUEUED, Conversation.Status.ASSIGNED, Conversation.Status.SNOOZED)
#: How far the business-hours clock looks ahead/back before giving up (a site
#: with hours on no day at all is never "open").
MAX_DAYS = 400
BATCH = 500


# --- The clock ------------------------------------------------------------------


def target_minutes(conversation: Conversation) -> int:
    campaign = conversation.campaign
    if campaign is not None and campaign.sla_unanswered_minutes is not None:
        return campaign.sla_unanswered_minutes
    return conversation.account.sla_unanswered_minutes


def clock_start(conversation: Conversation) -> datetime | None:
    """When the current waiting episode started, or None when nobody waits."""
    start = conversation.awaiting_reply_since
    if start is None:
        return None
    if conversation.queued_at and conversation.queued_at > start:
        # Handed off by the bot after the customer's first message: the wait for
        # an agent starts when the conversation reaches the queue.
        return conversation.queued_at
    return start


def _business_site(conversation: Conversation):
    if not conversation.account.sla_business_hours_only:
        return None
    site = conversation.site
    if site is None or not site.business_hours:
        return None
    return site


def _open_intervals(site, day: date) -> list[tuple[datetime, datetime]]:
    """The site's open intervals on ``day`` (its local date), as aware datetimes."""
    if day in set(site.holidays or []):
        return []
    tz = ZoneInfo(site.timezone)
    out = []
    for start, end in site.business_hours.get(WEEKDAYS[day.weekday()], []):
        out.append(
            (
                datetime.combine(day, time.fromisoformat(start), tzinfo=tz),
                datetime.combine(day, time.fromisoformat(end), tzinfo=tz),
            )
        )
    return out


def business_seconds(site, start: datetime, end: datetime) -> float:
    """Seconds between ``start`` and ``end`` during which ``site`` is open."""
    if end <= start:
        return 0.0
    if site is None or not site.business_hours:
        return (end - start).total_seconds()
    tz = ZoneInfo(site.timezone)
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    total = 0.0
    for _i in range(MAX_DAYS):
        if day > last:
            break
        for open_at, close_at in _open_intervals(site, day):
            lo, hi = max(open_at, start), min(close_at, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


def business_add(site, start: datetime, seconds: float) -> datetime | None:
    """The moment ``seconds`` of open time have passed after ``start``."""
    if site is None or not site.business_hours:
        return start + timedelta(seconds=seconds)
    tz = ZoneInfo(site.timezone)
    day = start.astimezone(tz).date()
    left = seconds
    for _i in range(MAX_DAYS):
        for open_at, close_at in _open_intervals(site, day):
            lo = max(open_at, start)
            if close_at <= lo:
                continue
            span = (close_at - lo).total_seconds()
            if span >= left:
                return (lo + timedelta(seconds=left)).astimezone(UTC)
            left -= span
        day += timedelta(days=1)
    return None


def elapsed_seconds(conversation: Conversation, now: datetime | None = None) -> float:
    start = clock_start(conversation)
    if start is None:
        return 0.0
    return business_seconds(_business_site(conversation), start, now or timezone.now())


def due_at(conversation: Conversation, *, ratio: float = 1.0) -> datetime | None:
    """When the current episode breaches (or warns, with ``ratio=0.8``); None
    when nobody waits, the SLA is off, or the conversation is not with humans."""
    if conversation.status not in SLA_STATUSES:
        return None
    start = clock_start(conversation)
    if start is None:
        return None
    minutes = target_minutes(conversation)
    if not minutes:
        return None
    return business_add(_business_site(conversation), start, minutes * 60 * ratio)


# --- The beat job -------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    conversation_id: int
    kind: str  # "sla.warning" | "sla.breached"
    due_at: datetime | None
    recipient_ids: tuple[int, ...]


def _candidates(now: datetime):
    """Open conversations whose customer has waited at least 80 % of the target
    in wall-clock time (business time is never longer), not yet breached."""
    target = Coalesce(F("campaign__sla_unanswered_minutes"), F("account__sla_unanswered_minutes"))
    warn_at = ExpressionWrapper(
        F("awaiting_reply_since") + target * Value(timedelta(seconds=60 * WARNING_RATIO), output_field=DurationField()),
        output_field=DateTimeField(),
    )
    return (
        Conversation.objects.filter(
            status__in=SLA_STATUSES, awaiting_reply_since__isnull=False, sla_breached_at__isnull=True
        )
        .alias(sla_target=target, warn_at=warn_at)
        .filter(sla_target__gt=0, warn_at__lte=now)
        .select_related("account", "campaign", "site", "assignee__user", "contact")
        .order_by("awaiting_reply_since", "id")
    )


def _supervisors(account_id: int) -> list[Membership]:
    return [
        m
        for m in Membership.objects.filter(account_id=account_id, is_active=True).select_related("user")
        if m.is_supervisor
    ]


def sla_check(*, now: datetime | None = None) -> list[Alert]:
    """Send every SLA warning and breach that is due, once per episode."""
    now = now or timezone.now()
    alerts: list[Alert] = []
    supervisors_by_account: dict[int, list[Membership]] = {}
    for conversation in _candidates(now)[:BATCH]:
        try:
            alert = _check_one(conversation, now, supervisors_by_account)
        except Exception:  # one bad row must not stop the others
            logger.exception("sla check failed", extra={"conversation_id": conversation.pk})
            continue
        if alert:
            alerts.append(alert)
    return alerts


def _check_one(conversation: Conversation, now: datetime, supervisors_by_account: dict) -> Alert | None:
    minutes = target_minutes(conversation)
    if not minutes:
        return None
    target = minutes * 60
    elapsed = elapsed_seconds(conversation, now)
    if elapsed >= target:
        kind = "sla.breached"
    elif elapsed >= target * WARNING_RATIO and conversation.sla_warned_at is None:
        kind = "sla.warning"
    else:
        return None
    if conversation.account_id not in supervisors_by_account:
        supervisors_by_account[conversation.account_id] = _supervisors(conversation.account_id)
    supervisors = supervisors_by_account[conversation.account_id]
    with transaction.atomic():
        claim = Conversation.objects.filter(
            pk=conversation.pk,
            status__in=SLA_STATUSES,
            sla_breached_at__isnull=True,
            awaiting_reply_since=conversation.awaiting_reply_since,
        )
        if kind == "sla.breached":
            # A breach implies the warning: a late job never sends both.
            won = claim.update(sla_breached_at=now, sla_warned_at=Coalesce(F("sla_warned_at"), Value(now)))
        else:
            won = claim.filter(sla_warned_at__isnull=True).update(sla_warned_at=now)
        if not won:
            return None
        return _alert(conversation, kind, now=now, elapsed=elapsed, supervisors=supervisors)


def _alert(conversation: Conversation, kind: str, *, now: datetime, elapsed: float, supervisors: list[Membership]) -> Alert:
    """Notification rows, live frames, fact and supervisor emails (inside the
    claiming transaction; frames and emails go on commit)."""
    due = due_at(conversation)
    recipients: dict[int, Membership] = {}
    if conversation.assignee_id and conversation.assignee.is_active:
        recipients[conversation.assignee_id] = conversation.assignee
    for member in supervisors:
        recipients.setdefault(member.pk, member)
    contact_name = conversation.contact.display_name
    waited = max(1, round(elapsed / 60))
    with translation.override(conversation.account.locale):
        if kind == "sla.breached":
            text = _("%(name)s has waited %(minutes)d min for a reply (target %(target)d min).") % {
                "name": contact_name, "minutes": waited, "target": target_minutes(conversation),
            }
        else:
            text = _("%(name)s has waited %(minutes)d min for a reply; the %(target)d min target is close.") % {
                "name": contact_name, "minutes": waited, "target": target_minutes(conversation),
            }
    Notification.objects.bulk_create(
        [
            Notification(
                account_id=conversation.account_id, membership=member, conversation=conversation,
                kind=kind, text=text[:300],
            )
            for member in recipients.values()
        ]
    )
    facts.record(
        facts.SLA_BREACHED if kind == "sla.breached" else facts.SLA_WARNING,
        conversation=conversation,
        membership_id=conversation.assignee_id,
        value=elapsed,
        at=now,
        target_minutes=target_minutes(conversation),
    )
    realtime.publish_on_commit(
        groups=[realtime.group_member(mid) for mid in recipients],
        event=kind,
        data={"conversation_id": conversation.pk, "kind": "unanswered", "due_at": events._iso(due), "text": text},
        meta={**events.conversation_meta(conversation), "audience": "agents"},
    )
    if kind == "sla.breached":
        emails = [(m.user.email, m.user.language or conversation.account.locale) for m in supervisors if m.user.email]
        conversation_id, account_name, target = conversation.pk, conversation.account.name, target_minutes(conversation)
        transaction.on_commit(
            lambda: _email_supervisors(
                emails, conversation_id=conversation_id, contact_name=contact_name, waited=waited,
                target=target, account_name=account_name,
            )
        )
    return Alert(conversation.pk, kind, due, tuple(recipients))


def _email_supervisors(emails, *, conversation_id: int, contact_name: str, waited: int, target: int, account_name: str) -> None:
    link = f"{settings.PUBLIC_URL}/app/conversations/{conversation_id}/"
    for address, language in emails:
        with translation.override(language):
            subject = _("[%(account)s] SLA breached: %(name)s is waiting") % {"account": account_name, "name": contact_name}
            body = _(
                "%(name)s has waited %(minutes)d minutes for a reply (target: %(target)d minutes).\n\nOpen the conversation: %(link)s"
            ) % {"name": contact_name, "minutes": waited, "target": target, "link": link}
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except Exception:  # the alert is recorded; a mail outage must not undo it
            logger.exception("sla email failed", extra={"conversation_id": conversation_id})
