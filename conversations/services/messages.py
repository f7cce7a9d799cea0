"""Messages: send (idempotent on client_id), read, delivery status, typing,
attachments."""

from __future__ import annotations

import datetime as dt
import io
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from channels.db import database_sync_to_async

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership
from core import presence, realtime
from core.background import run_later
from core.exceptions import NotFound, PermissionDenied, RateLimited, ValidationError
from core.metrics import labelled, messages_total

from .. import events, signals
from ..models import Attachment, Contact, Conversation, Message
from ..selectors import Viewer, conversation_open_for_contact, viewer_for
from ._send_lock import Sent, lock_conversation, new_instance, send_one, send_one_async, store_message
from .contacts import contact_pending_context
from .conversations import conversation_assign, conversation_route_on_commit, conversation_start

_KINDS = frozenset(Message.Kind.values)
ALLOWED_KINDS = {
    Message.Sender.CONTACT: {Message.Kind.TEXT, Message.Kind.IMAGE, Message.Kind.DOCUMENT, Message.Kind.LOCATION},
    Message.Sender.AGENT: {
        Message.Kind.TEXT, Message.Kind.IMAGE, Message.Kind.DOCUMENT, Message.Kind.CARD,
        Message.Kind.QUICK_REPLIES, Message.Kind.LOCATION, Message.Kind.NOTE,
    },
    Message.Sender.BOT: {
        Message.Kind.TEXT, Message.Kind.IMAGE, Message.Kind.DOCUMENT, Message.Kind.CARD,
        Message.Kind.QUICK_REPLIES, Message.Kind.LOCATION,
    },
    Message.Sender.SYSTEM: {Message.Kind.SYSTEM},
}
STATUS_RANK = {
    Message.Status.SENDING: 0,
    Message.Status.SENT: 1,
    Message.Status.DELIVERED: 2,
    Message.Status.READ: 3,
    Message.Status.FAILED: 4,
}


@dataclass(frozen=True)
class SendResult:
    """``data``: the message's wire shape as its events carried it (the
    socket's ack reuses it), when this send published them."""

    message: Message
    created: bool
    data: dict[str, Any] | None = field(default=None, compare=False)


# --- Validation -----------------------------------------------------------------

def _clean_client_id(client_id: Any) -> str:
    client_id = str(client_id or "").strip()
    if len(client_id) > 64:
        raise ValidationError(_("client_id is too long (64 characters at most)."), field="client_id")
    return client_id


def _clean_payload(kind: str, payload: Any) -> dict:
    payload = payload or {}
    if not isinstance(payload, dict):
        raise ValidationError(_("payload must be an object."), field="payload")
    if kind == Message.Kind.QUICK_REPLIES:
        options = payload.get("options")
        if not isinstance(options, list) or not 1 <= len(options) <= 10:
            raise ValidationError(_("Quick replies need 1 to 10 options."), field="payload")
        clean = []
        for option in options:
            if not isinstance(option, dict) or not str(option.get("label", "")).strip():
                raise ValidationError(_("Each quick reply needs a label."), field="payload")
            clean.append(
                {
                    "label": str(option["label"])[:80],
                    "value": str(option.get("value") or option["label"])[:200],
                    **({"icon": str(option["icon"])[:40]} if option.get("icon") else {}),
                }
            )
        return {"options": clean}
    if kind == Message.Kind.CARD:
        from .conversations import clean_context

        return clean_context(payload)
    if kind == Message.Kind.LOCATION:
        try:
            lat, lng = float(payload["lat"]), float(payload["lng"])
        except (KeyError, TypeError, ValueError):
            raise ValidationError(_("A location needs numeric lat and lng."), field="payload") from None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ValidationError(_("Location out of range."), field="payload")
        return {"lat": lat, "lng": lng, **({"name": str(payload["name"])[:200]} if payload.get("name") else {})}
    # Text answers to quick replies carry the chosen value.
    if "reply_to" in payload or "value" in payload:
        return {k: str(payload[k])[:200] for k in ("reply_to", "value") if k in payload}
    return {}


def _clean_content(content: Any) -> str:
    if content is None:
        return ""
    if not isinstance(content, str):
        raise ValidationError(_("content must be text."), field="content")
    content = content.strip()
    if len(content) > settings.CHARLA["MESSAGE_MAX_CHARS"]:
        raise ValidationError(
            _("Message is too long (%(max)s characters at most).") % {"max": settings.CHARLA["MESSAGE_MAX_CHARS"]},
            field="content",
            code="too_long",
        )
    return content


def _claim_attachments(*, account_id: int, attachment_ids: Iterable[Any], contact: Contact | None, membership: Membership | None) -> list[Attachment]:
    try:
        ids = [int(a) for a in attachment_ids or []]
    except (TypeError, ValueError):
        raise ValidationError(_("attachments must be ids."), field="attachments") from None
    if not ids:
        return []
    if len(ids) > 10:
        raise ValidationError(_("Ten attachments per message at most."), field="attachments")
    owner = Q(uploaded_by_contact=contact) if contact is not None else Q(uploaded_by_membership=membership)
    found = list(
        Attachment.objects.select_for_update().filter(owner, account_id=account_id, pk__in=ids, message__isnull=True)
    )
    if len(found) != len(set(ids)):
        raise ValidationError(_("Unknown or already used attachment."), field="attachments")
    return found


# --- Send -----------------------------------------------------------------------------

def _existing(conversation_id: int, client_id: str) -> Message | None:
    """The stored twin of a retried send (rare; loaded with what its ack needs)."""
    if not client_id:
        return None
    return (
        Message.objects.select_related("conversation__contact", "sender_membership__user")
        .prefetch_related("attachments")
        .filter(conversation_id=conversation_id, client_id=client_id)
        .first()
    )


def _lock_for_send(
    *, account_id: int, conversation_id: int, contact_id: int | None = None, reuse: Iterable[Any] = ()
) -> Conversation | None:
    """Lock a conversation for a send: one prepared statement
    (``_send_lock``), joined to what the send's events show.

    The account and the site are configuration, not part of a send: when one
    of ``reuse`` (the socket's contact or membership, a conversation the
    caller loaded) already holds them they are reused, not read again;
    otherwise they load on first use.
    """
    conversation = lock_conversation(account_id=account_id, conversation_id=conversation_id, contact_id=contact_id)
    if conversation is None:
        return None
    return _reusing(conversation, reuse)


def _reusing(conversation: Conversation, reuse: Iterable[Any]) -> Conversation:
    """``conversation`` with the account and site that one of ``reuse``
    holds (loaded, and the same rows) as its own, as ``select_related``
    would have cached them. Read from and written to Django's cache of
    loaded relations (``_state.fields_cache``, what the foreign keys'
    descriptors read): through the descriptors this was 1.8 % of a
    visitor's message."""
    cached = conversation._state.fields_cache
    for source in reuse:
        if source is None:
            continue
        held = source._state.fields_cache
        for name, attname in _CONFIGURATION:
            related = held.get(name)
            if related is not None and related.pk == conversation.__dict__.get(attname):
                cached[name] = related
    return conversation


#: The relations a send reuses (``_reusing``): (field name, attribute of its id).
_CONFIGURATION = (("account", "account_id"), ("site", "site_id"))


def _with_attachments(message: Message, attachments: list[Attachment]) -> Message:
    """Give a new message its attachments as if prefetched, so its payload and
    HTML fragment do not query them again (Django keeps prefetched rows in
    ``_prefetched_objects_cache``, as ``prefetch_related`` does)."""
    message._prefetched_objects_cache = {"attachments": _prefetched(attachments) if attachments else _no_attachments()}
    return message


def _prefetched(attachments: list[Attachment]) -> QuerySet:
    prefetched = Attachment.objects.none()
    prefetched._result_cache = list(attachments)
    prefetched._prefetch_done = True
    return prefetched


@cache
def _no_attachments() -> QuerySet:
    """The empty one, shared (only ever read: building a queryset per
    message was 1.7 % of a send)."""
    return _prefetched([])


def message_send(
    *,
    conversation: Conversation,
    sender_type: str,
    membership: Membership | None = None,
    content: Any = "",
    kind: str = Message.Kind.TEXT,
    payload: Any = None,
    client_id: Any = "",
    attachment_ids: Iterable[Any] = (),
    private: bool = False,
    external_id: str = "",
    status: str = Message.Status.SENT,
    flood_limit: int | None = None,
    sender_channel: str | None = None,
) -> SendResult:
    """Store one message and publish it after commit.

    Idempotent on ``client_id``: a repeat returns the stored message and
    ``created=False``, never a second row. The conversation row is locked
    for the insert, so ids grow in commit order within a conversation and
    ``resume`` after an id can never skip a late commit. ``flood_limit``:
    a contact's messages allowed per window (:func:`flood_window`).
    ``sender_channel``: the visitor's socket that sent it, which the ack
    answers: the message goes to their other tabs only
    (``events.publish_message``).
    """
    with transaction.atomic():
        locked = _lock_for_send(
            account_id=conversation.account_id, conversation_id=conversation.pk, reuse=(conversation, membership)
        )
        if locked is None:
            raise NotFound(_("No such conversation."))
        return _send_locked(
            conversation=locked, sender_type=sender_type, membership=membership, content=content, kind=kind,
            payload=payload, client_id=client_id, attachment_ids=attachment_ids, private=private,
            external_id=external_id, status=status, flood_limit=flood_limit, sender_channel=sender_channel,
        )


def _send_locked(
    *,
    conversation: Conversation,
    sender_type: str,
    membership: Membership | None,
    content: Any,
    kind: str,
    payload: Any,
    client_id: Any,
    attachment_ids: Iterable[Any],
    private: bool = False,
    external_id: str = "",
    status: str = Message.Status.SENT,
    flood_limit: int | None = None,
    sender_channel: str | None = None,
) -> SendResult:
    """``message_send`` once the conversation is locked (by ``_lock_for_send``)
    in the current transaction.

    The statements of a plain text send: one, the insert and the counters'
    update together (``store_message``; a retried ``client_id`` lands on the
    unique index instead of being looked up before every insert).
    """
    client_id = _clean_client_id(client_id)
    if private:
        kind = Message.Kind.NOTE
    kind, content, payload = _clean(sender_type, kind, content, payload)

    if conversation.status == Conversation.Status.CLOSED and sender_type != Message.Sender.SYSTEM:
        existing = _existing(conversation.pk, client_id)  # a retry of a send made before the close
        if existing is not None:
            return SendResult(existing, False)
        raise ValidationError(_("This conversation is closed."), code="closed")
    if flood_limit is not None and sender_type == Message.Sender.CONTACT and _flooded(conversation, flood_limit):
        raise _too_fast()

    contact = conversation.contact if sender_type == Message.Sender.CONTACT else None
    attachments = _claim_attachments(
        account_id=conversation.account_id, attachment_ids=attachment_ids, contact=contact, membership=membership
    )
    if attachments and kind == Message.Kind.TEXT:
        kind = Message.Kind.IMAGE if all(a.is_image for a in attachments) else Message.Kind.DOCUMENT
    if not content and not attachments and kind in (Message.Kind.TEXT, Message.Kind.NOTE):
        raise ValidationError(_("A message cannot be empty."), field="content", code="empty")

    now = timezone.now()
    message = _new_message(
        account_id=conversation.account_id, conversation_id=conversation.pk, sender_type=sender_type, membership=membership, kind=kind, content=content, payload=payload,
        client_id=client_id, external_id=external_id, status=status, now=now,
    )
    before = events.audience_of(conversation)
    preview = content or ", ".join(a.name for a in attachments) or f"[{kind}]"
    if not store_message(message, conversation, preview=preview, window=flood_window()):
        # The same client_id again: the unique index caught the retry.
        return SendResult(_existing(conversation.pk, client_id), False)
    if attachments:
        Attachment.objects.filter(pk__in=[a.pk for a in attachments]).update(message=message)
        for attachment in attachments:
            attachment.message = message
    return _stored(message, conversation, attachments, before=before, sender_channel=sender_channel)


def flood_window() -> dt.timedelta:
    """The window of a visitor's flood limit (the per-connection limit's too)."""
    return dt.timedelta(seconds=int(settings.CHARLA.get("RATE_LIMIT_WINDOW_SECONDS", 10)))


def _flooded(conversation: Conversation, limit: int) -> bool:
    """Whether the visitor sent ``limit`` messages in the current window."""
    since = conversation.flood_since
    return since is not None and since > timezone.now() - flood_window() and conversation.flood_count >= limit


def _too_fast() -> RateLimited:
    return RateLimited(_("You are sending messages too fast. Wait a few seconds and try again."))


def _clean(sender_type: str, kind: str, content: Any, payload: Any) -> tuple[str, str, dict]:
    """A message's kind (allowed for its sender), content and payload, checked."""
    if sender_type not in ALLOWED_KINDS:
        raise ValidationError(_("Unknown sender."), field="sender")
    if kind not in _KINDS:
        raise ValidationError(_("Unknown message kind."), field="kind")
    if kind not in ALLOWED_KINDS[sender_type]:
        raise PermissionDenied(_("This sender cannot send %(kind)s messages.") % {"kind": kind}, code="forbidden")
    return kind, _clean_content(content), _clean_payload(kind, payload)


def _new_message(*, account_id: int, conversation_id: int, sender_type: str, membership: Membership | None,
                 kind: str, content: str, payload: dict, client_id: str, external_id: str = "",
                 status: str = Message.Status.SENT, now) -> Message:
    """A message to store (its conversation is attached once stored: ``_stored``)."""
    return new_instance(
        Message,
        {"sender_membership": membership if sender_type == Message.Sender.AGENT else None},
        account_id=account_id,
        conversation_id=conversation_id,
        sender_type=sender_type,
        kind=kind,
        content=content,
        payload=payload,
        client_id=client_id,
        external_id=external_id,
        status=status,
        sent_at=now if status == Message.Status.SENT else None,
    )


def _stored(message: Message, conversation: Conversation, attachments: list[Attachment], *,
            before: dict[str, Any], after_commit: bool = True, sender_channel: str | None = None) -> SendResult:
    """A new message is stored and ``conversation`` holds its new counters:
    its events, after commit (``before``: ``events.audience_of`` the
    conversation before the send), and, unless the caller takes care of it,
    what follows the commit (``_after_commit``)."""
    message.conversation = conversation
    _with_attachments(message, attachments)
    if message.kind == Message.Kind.NOTE:
        data = events.publish_message(message)
    else:
        # A visitor's own message changes nothing their tabs show of the
        # conversation (their unread count is of the other side's messages)
        # unless it woke a snoozed one: no update for them then.
        visitor_sees_change = message.sender_type != Message.Sender.CONTACT or conversation.status != before["status"]
        if events.audience_of(conversation) == before:
            # Nobody gains or loses sight of it: one event for the agents.
            data = events.publish_message(message, sender_channel=sender_channel, with_conversation=True,
                                          to_contact=visitor_sees_change)
        else:
            data = events.publish_message(message, sender_channel=sender_channel)
            events.publish_conversation(conversation, to_contact=visitor_sees_change, before=before)
    if after_commit:
        _after_commit(message, conversation)
    return SendResult(message, True, data)


def _contact_send_in_one(contact: Contact, *, conversation_id: int, client_id: str, content: Any, kind: str,
                         payload: Any, flood_limit: int | None, sender_channel: str | None) -> SendResult | None:
    """The usual visitor message — text or another kind without attachments,
    into their open conversation — as one statement, without a transaction
    (``_send_lock.send_one``). ``None`` when it does not apply (no such open
    conversation of theirs): the caller takes the general path, which knows
    what to do then."""
    message, statement = _one_statement_send(contact, conversation_id=conversation_id, client_id=client_id,
                                             content=content, kind=kind, payload=payload, flood_limit=flood_limit)
    sent = send_one(message, **statement)
    if sent.retry:
        return SendResult(_existing(conversation_id, client_id), False)
    result = _one_statement_sent(contact, message, sent, sender_channel)
    if result is not None:
        _after_commit(message, result.message.conversation)
    return result


async def contact_message_send_async(
    *, contact: Contact, conversation_id: Any, client_id: Any = "", content: Any = "", kind: str = Message.Kind.TEXT,
    payload: Any = None, attachment_ids: Iterable[Any] = (), context: dict | None = None,
    flood_limit: int | None = None, sender_channel: str | None = None,
) -> SendResult | None:
    """:func:`contact_message_send` from the event loop, for the usual case
    only: the one statement on the loop's own connection (``core.adb``),
    then the same events. ``None`` when the send needs anything else (no
    conversation id, attachments, a closed or unknown conversation, a
    retried ``client_id``): the caller runs :func:`contact_message_send` on
    a worker thread, which answers every case. (``context`` matters only
    when a conversation starts, which this path never does.)

    The same functions prepare the statement and read its row as on the
    synchronous path (``_one_statement_send``/``_one_statement_sent``): only
    the driver differs. What follows the commit and may touch Redis or the
    database (the offline e-mail's check, ``message_received`` receivers)
    runs on a worker thread."""
    from core import adb

    if conversation_id is None or attachment_ids or not _holds_configuration(contact):
        return None
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        raise NotFound(_("No such conversation.")) from None
    message, statement = _one_statement_send(
        contact, conversation_id=conversation_id, client_id=_clean_client_id(client_id), content=content, kind=kind,
        payload=payload, flood_limit=flood_limit,
    )
    async with adb.connection() as aconnection:
        sent = await send_one_async(aconnection, message, **statement)
    if sent.retry:
        return None  # the worker thread reads the stored twin
    result = _one_statement_sent(contact, message, sent, sender_channel)
    if result is not None:
        conversation = result.message.conversation
        labelled(messages_total, message.sender_type).inc()
        if signals.message_received.has_listeners() or _offline_email_possible(message, conversation, local=True):
            job = database_sync_to_async(_after_commit_job, thread_sensitive=False)
            run_later(0, lambda: job(message, conversation))
    return result


def _holds_configuration(contact: Contact) -> bool:
    """Whether the contact (the socket's) carries its account and site, which
    the events read (the SLA's target and business hours): on the loop, a
    read of anything not loaded would be a database query Django refuses."""
    return Contact.account.is_cached(contact) and Contact.site.is_cached(contact)


def _one_statement_send(contact: Contact, *, conversation_id: int, client_id: str, content: Any, kind: str,
                        payload: Any, flood_limit: int | None) -> tuple[Message, dict[str, Any]]:
    """The message of a one-statement send, checked, and the statement's arguments."""
    kind, content, payload = _clean(Message.Sender.CONTACT, kind, content, payload)
    if not content and kind == Message.Kind.TEXT:
        raise ValidationError(_("A message cannot be empty."), field="content", code="empty")
    message = _new_message(
        account_id=contact.account_id, conversation_id=conversation_id, sender_type=Message.Sender.CONTACT,
        membership=None, kind=kind, content=content, payload=payload, client_id=client_id, now=timezone.now(),
    )
    statement = {
        "account_id": contact.account_id, "contact_id": contact.pk, "preview": content or f"[{kind}]",
        "window": flood_window(), "limit": flood_limit,
    }
    return message, statement


def _one_statement_sent(contact: Contact, message: Message, sent: Sent, sender_channel: str | None) -> SendResult | None:
    """What a one-statement send did: its events when it stored the message
    (published at once: the statement has committed), ``RateLimited`` when
    the visitor is over their limit, ``None`` when there was no open
    conversation of theirs. A retried ``client_id`` is the caller's."""
    if not sent.found:
        return None
    if sent.flooded:
        raise _too_fast()
    conversation = _reusing(sent.conversation, (contact,))
    before = {**events.audience_of(conversation), "status": sent.status_before}
    return _stored(message, conversation, [], before=before, after_commit=False, sender_channel=sender_channel)


def _offline_email_possible(message: Message, conversation: Conversation, *, local: bool = False) -> bool:
    """Whether the offline e-mail task could send anything for ``message``,
    checked without the task's queries: nobody to e-mail, or the recipient
    has a live socket (they see it now), means no task. The task decides
    again when it runs. ``local``: no Redis (``presence.was_live_lately``):
    a recipient not known to be live may still be."""
    live = presence.was_live_lately if local else presence.is_live
    if message.kind == Message.Kind.NOTE:
        return False
    if message.sender_type == Message.Sender.CONTACT:
        return conversation.assignee_id is not None and not live("member", conversation.assignee_id)
    if message.sender_type == Message.Sender.AGENT:
        return bool(conversation.contact.email) and not live("contact", conversation.contact_id)
    return False


def _after_commit(message: Message, conversation: Conversation) -> None:
    def run() -> None:
        labelled(messages_total, message.sender_type).inc()
        _after_commit_job(message, conversation)

    transaction.on_commit(run)


def _after_commit_job(message: Message, conversation: Conversation) -> None:
    if message.sender_type == Message.Sender.CONTACT:
        signals.message_received.send(
            sender=Message, message_id=message.pk, conversation_id=conversation.pk,
            account_id=conversation.account_id,
        )
    if _offline_email_possible(message, conversation):
        from ..tasks import message_notify_offline_task

        message_notify_offline_task.delay(message.pk)


def contact_message_send(
    *,
    contact: Contact,
    conversation_id: int | None = None,
    client_id: Any = "",
    content: Any = "",
    kind: str = Message.Kind.TEXT,
    payload: Any = None,
    attachment_ids: Iterable[Any] = (),
    context: dict | None = None,
    flood_limit: int | None = None,
    sender_channel: str | None = None,
) -> SendResult:
    """A visitor's message. Without ``conversation_id`` it continues the
    visitor's open conversation or starts one; a repeat of the same
    ``client_id`` never starts a second. ``flood_limit``: at most that many
    of the visitor's messages per :func:`flood_window` in a conversation
    (``RateLimited`` beyond; counted on the conversation's row).
    ``sender_channel``: the sending socket (:func:`message_send`)."""
    client_id = _clean_client_id(client_id)
    send = {
        "sender_type": Message.Sender.CONTACT, "membership": None, "content": content, "kind": kind,
        "payload": payload, "client_id": client_id, "attachment_ids": attachment_ids, "flood_limit": flood_limit,
        "sender_channel": sender_channel,
    }
    if conversation_id is not None:
        try:
            conversation_id = int(conversation_id)
        except (TypeError, ValueError):
            raise NotFound(_("No such conversation.")) from None
        if not attachment_ids:
            # The usual case (an open chat): one statement.
            result = _contact_send_in_one(
                contact, conversation_id=conversation_id, client_id=client_id, content=content, kind=kind,
                payload=payload, flood_limit=flood_limit, sender_channel=sender_channel,
            )
            if result is not None:
                return result
    with transaction.atomic():
        if conversation_id is not None:
            conversation = _lock_for_send(
                account_id=contact.account_id, conversation_id=conversation_id, contact_id=contact.pk, reuse=(contact,)
            )
            if conversation is None:
                raise NotFound(_("No such conversation."))
            if conversation.status != Conversation.Status.CLOSED:
                return _send_locked(conversation=conversation, **send)
            # Writing into a closed chat goes on in the visitor's open one,
            # or starts a new one, as Intercom does.
            context = conversation.context or None
        # One send at a time per visitor from here, so a retry finds the
        # twin its first attempt stored, in whichever conversation.
        Contact.objects.select_for_update().filter(pk=contact.pk).first()
        if client_id:
            twin = (
                Message.objects.filter(account_id=contact.account_id, conversation__contact=contact, client_id=client_id)
                .values_list("conversation_id", flat=True)
                .first()
            )
            if twin is not None:
                return SendResult(_existing(twin, client_id), False)
        conversation = conversation_open_for_contact(contact=contact)
        if conversation is not None:
            return message_send(conversation=conversation, **send)
        # A new conversation: its first message's events carry it as queued,
        # so they go out before routing assigns it (an agent's list would
        # otherwise get the assignment, then the older state, and keep the
        # row in the queue).
        conversation = conversation_start(
            contact=contact, context=context or contact_pending_context(contact), route=False
        )
        result = message_send(conversation=conversation, **send)
        if conversation.status == Conversation.Status.QUEUED:
            conversation_route_on_commit(conversation)
        return result


def agent_message_send(
    *,
    membership: Membership,
    conversation_id: Any,
    client_id: Any = "",
    content: Any = "",
    kind: str = Message.Kind.TEXT,
    payload: Any = None,
    attachment_ids: Iterable[Any] = (),
    private: bool = False,
    viewer: Viewer | None = None,
) -> SendResult:
    """An agent's reply or private note, to a conversation the agent may see
    (``viewer``: the socket's, or computed). Replying to a waiting
    conversation takes it (Chatwoot's behaviour)."""
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        raise NotFound(_("No such conversation.")) from None
    viewer = viewer or viewer_for(membership)
    with transaction.atomic():
        conversation = _lock_for_send(
            account_id=membership.account_id, conversation_id=conversation_id, reuse=(membership,)
        )
        visible = conversation is not None and viewer.can_see(
            account_id=conversation.account_id, assignee_id=conversation.assignee_id,
            campaign_id=conversation.campaign_id, status=conversation.status,
        )
        if not visible:
            raise NotFound(_("No such conversation."))
        result = _send_locked(
            conversation=conversation,
            sender_type=Message.Sender.AGENT,
            membership=membership,
            content=content,
            kind=kind,
            payload=payload,
            client_id=client_id,
            attachment_ids=attachment_ids,
            private=private,
        )
        if result.created and not private and result.message.conversation.assignee_id is None:
            conversation_assign(
                conversation=result.message.conversation, assignee=membership, by=membership,
                reason=_("took the conversation by replying"),
            )
        return result


# --- Read, delivery, status --------------------------------------------------------

@transaction.atomic
def message_mark_read(*, conversation: Conversation, reader: str, up_to_id: Any) -> int:
    """Everything the other side sent up to ``up_to_id`` is read. Returns
    how many messages changed."""
    try:
        up_to_id = int(up_to_id)
    except (TypeError, ValueError):
        raise ValidationError(_("message_id must be a number."), field="message_id") from None
    if reader == "agent":
        senders = [Message.Sender.CONTACT]
        counter = "unread_agent"
    elif reader == "contact":
        senders = [Message.Sender.AGENT, Message.Sender.BOT]
        counter = "unread_contact"
    else:
        raise ValidationError(_("Unknown reader."), field="reader")
    now = timezone.now()
    changed = Message.objects.filter(
        account_id=conversation.account_id,
        conversation_id=conversation.pk,
        sender_type__in=senders,
        id__lte=up_to_id,
    ).exclude(status__in=[Message.Status.READ, Message.Status.FAILED]).exclude(kind=Message.Kind.NOTE).update(
        status=Message.Status.READ, read_at=now
    )
    remaining = Message.objects.filter(
        account_id=conversation.account_id, conversation_id=conversation.pk, sender_type__in=senders, id__gt=up_to_id
    ).exclude(kind=Message.Kind.NOTE).count()
    if changed or getattr(conversation, counter) != remaining:
        Conversation.objects.filter(pk=conversation.pk).update(**{counter: remaining})
        setattr(conversation, counter, remaining)
        events.publish_read(conversation, reader=reader, up_to_id=up_to_id)
        if reader == "agent":
            events.publish_conversation(conversation)
    return changed


def message_mark_delivered(*, account_id: int, message_id: int) -> bool:
    """The message reached the other side's socket (sent → delivered)."""
    updated = Message.objects.filter(account_id=account_id, pk=message_id, status=Message.Status.SENT).update(
        status=Message.Status.DELIVERED, delivered_at=timezone.now()
    )
    if updated:
        message = (
            Message.objects.select_related("conversation__contact", "conversation__assignee", "sender_membership__user")
            .prefetch_related("attachments")
            .get(pk=message_id)
        )
        events.publish_message(message, event="message.updated")
    return bool(updated)


@transaction.atomic
def message_status_update(*, account_id: int, status: str, message_id: int | None = None, external_id: str = "", error: str = "") -> Message | None:
    """A channel reported a delivery status (e.g. Twilio's callback). Never
    moves a status backwards; ``failed`` is final."""
    if status not in STATUS_RANK:
        raise ValidationError(_("Unknown status."), field="status")
    qs = Message.objects.select_for_update(of=("self",)).filter(account_id=account_id)
    qs = qs.filter(pk=message_id) if message_id else qs.filter(external_id=external_id)
    message = qs.select_related("conversation__contact", "sender_membership__user").first() if (message_id or external_id) else None
    if message is None:
        return None
    if message.status == Message.Status.FAILED or STATUS_RANK[status] <= STATUS_RANK[message.status]:
        return message
    now = timezone.now()
    message.status = status
    stamp = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "failed": "failed_at"}.get(status)
    fields = ["status", "updated_at"]
    if stamp:
        setattr(message, stamp, now)
        fields.append(stamp)
    if error:
        message.error = error[:300]
        fields.append("error")
    message.save(update_fields=fields)
    events.publish_message(message, event="message.updated")
    return message


def typing_set(
    *, conversation: Conversation, who_type: str, who_id: int, who_name: str, state: str, private: bool = False
) -> None:
    """Typing is ephemeral: nothing is written, the signal goes out at once.
    An agent typing a private note (``private``) is shown to agents only."""
    if state not in ("start", "stop"):
        raise ValidationError(_("state must be start or stop."), field="state")
    data = {"conversation_id": conversation.pk, "who": {"type": who_type, "id": who_id, "name": who_name}, "state": state}
    meta = events.conversation_meta(conversation)
    groups = [realtime.group_conversation(conversation.pk)]
    if conversation.assignee_id:
        groups.append(realtime.group_member(conversation.assignee_id))
    if who_type == "agent" and not private:
        groups.append(realtime.group_contact(conversation.contact_id))
    realtime.send_now(groups=groups, event="typing", data=data, meta=meta)


# --- Attachments -------------------------------------------------------------------

def _sniff_type(data: bytes, name: str, declared: str) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    guessed = declared or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if guessed == "text/plain":
        try:
            data[:4096].decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError:
            pass
    return "application/octet-stream"


def attachment_upload(
    *, account_id: int, upload, contact: Contact | None = None, membership: Membership | None = None
) -> Attachment:
    """Store an upload for a later ``message_send``. Checks size and the real
    file type (magic bytes), not the name the browser sent."""
    limit = settings.CHARLA["ATTACHMENT_MAX_BYTES"]
    size = getattr(upload, "size", None) or 0
    if size > limit:
        raise ValidationError(_("The file is too large (10 MB at most)."), field="file", code="too_large")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(_("The file is too large (10 MB at most)."), field="file", code="too_large")
    if not data:
        raise ValidationError(_("The file is empty."), field="file")
    name = (getattr(upload, "name", "") or "file").rsplit("/", 1)[-1][:200]
    content_type = _sniff_type(data, name, getattr(upload, "content_type", "") or "")
    if content_type not in settings.CHARLA["ATTACHMENT_TYPES"]:
        raise ValidationError(_("This file type is not allowed. Send images (PNG, JPEG, GIF, WebP), PDF or text."), field="file", code="bad_type")
    attachment = Attachment(
        account_id=account_id,
        name=name,
        content_type=content_type,
        size=len(data),
        uploaded_by_contact=contact,
        uploaded_by_membership=membership,
    )
    attachment.file.save(name, ContentFile(data), save=False)
    if content_type.startswith("image/"):
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as image:
                image.thumbnail((320, 320))
                out = io.BytesIO()
                image.convert("RGB").save(out, format="JPEG", quality=80)
            attachment.thumbnail.save(f"thumb-{name.rsplit('.', 1)[0]}.jpg", ContentFile(out.getvalue()), save=False)
        except Exception as exc:  # noqa: BLE001 - a broken image is refused, not stored
            attachment.file.delete(save=False)
            raise ValidationError(_("This image could not be read."), field="file", code="bad_image") from exc
    attachment.save()
    return attachment
