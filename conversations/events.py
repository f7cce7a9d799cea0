"""Wire shapes of conversations and messages (PROTOCOL.md), and their fan-out.

Services call the ``publish_*`` helpers; they build each frame once and hand
it to ``core.realtime`` on commit. A message's bubble HTML is drawn by the
agent sockets that show its thread (``AgentConsumer.with_bubble``). Visitors
get the same data without internal fields or HTML, and never a private note
or an internal system line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from accounts.templatetags.charla_ui import avatar_colour
from core import presence, realtime

from . import html
from .models import Attachment, Conversation, Message


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def member_data(membership) -> dict[str, Any] | None:
    if membership is None:
        return None
    user = membership.user
    return {
        "id": membership.pk,
        "name": user.display_name,
        "avatar": file_url(user, "avatar"),
    }


def member_with_colour(membership) -> dict[str, Any] | None:
    """``member_data`` and the colour of their avatar (``avatar_colour`` of
    their e-mail), as the inbox draws it: an assignee in a list row, an
    agent beside their messages."""
    data = member_data(membership)
    if data is not None:
        data["colour"] = avatar_colour(membership.user.email)
    return data


def file_url(instance, name: str) -> str | None:
    """The URL of a file field's file, or None. Read from the stored name:
    the field's descriptor would wrap it in a ``FieldFile`` that refers back
    to the instance — a reference cycle per loaded row, left for the cyclic
    collector (whose pauses are the real-time path's tail)."""
    value = instance.__dict__.get(name)
    if not isinstance(value, str):  # deferred, or already wrapped
        value = getattr(instance, name)
        return value.url if value else None
    return instance._meta.get_field(name).storage.url(value) if value else None


def attachment_data(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "url": attachment.file.url if attachment.file else None,
        "thumbnail_url": attachment.thumbnail.url if attachment.thumbnail else None,
    }


def sender_data(message: Message) -> dict[str, Any]:
    if message.sender_type == Message.Sender.AGENT and message.sender_membership_id:
        member = member_with_colour(message.sender_membership)
        return {"type": "agent", **member} if member else {"type": "agent", "id": None, "name": "", "avatar": None}
    if message.sender_type == Message.Sender.CONTACT:
        contact = message.conversation.contact
        return {"type": "contact", "id": contact.pk, "name": contact.display_name, "avatar": None}
    return {"type": message.sender_type, "id": None, "name": "", "avatar": None}


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "client_id": message.client_id or None,
        "sender": sender_data(message),
        "kind": message.kind,
        "content": message.content,
        "payload": message.payload,
        "attachments": [attachment_data(a) for a in message.attachments.all()],
        "status": message.status,
        "private": message.is_private,
        "created_at": _iso(message.created_at),
    }


def is_visible_to_contact(message: Message) -> bool:
    if message.kind == Message.Kind.NOTE:
        return False
    return not (message.kind == Message.Kind.SYSTEM and message.payload.get("internal"))


def conversation_data(conversation: Conversation) -> dict[str, Any]:
    """The agents' view of a conversation (also the REST API's)."""
    contact = conversation.contact
    campaign = conversation.campaign
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "channel": conversation.channel,
        "site_id": conversation.site_id,
        "assignee": member_with_colour(conversation.assignee),
        "campaign": {"id": campaign.pk, "name": campaign.name} if campaign else None,
        "contact": {
            "id": contact.pk,
            "name": contact.display_name,
            "email": contact.email,
            "phone": contact.phone,
            "online": contact.is_online,
        },
        "priority": conversation.priority,
        "lead_quality": conversation.lead_quality,
        "outcome": conversation.outcome,
        "context": conversation.context,
        "unread": conversation.unread_agent,
        "unread_contact": conversation.unread_contact,
        "message_count": conversation.message_count,
        "last_message_preview": conversation.last_message_preview,
        "created_at": _iso(conversation.created_at),
        "queued_at": _iso(conversation.queued_at),
        "assigned_at": _iso(conversation.assigned_at),
        "first_response_at": _iso(conversation.first_agent_response_at),
        "last_message_at": _iso(conversation.last_message_at),
        "awaiting_reply_since": _iso(conversation.awaiting_reply_since),
        "sla_due_at": _iso(_sla_due_at(conversation)),
        "snoozed_until": _iso(conversation.snoozed_until),
        "closed_at": _iso(conversation.closed_at),
    }


def _sla_due_at(conversation: Conversation):
    """When the waiting customer's SLA breaches (None when nobody waits)."""
    if conversation.awaiting_reply_since is None:
        return None
    return _due_at()(conversation)


@lru_cache(maxsize=1)
def _due_at():
    # Imported on first use (services import this module); an import
    # statement per message was 1 % of its CPU.
    from .services.sla import due_at

    return due_at


def conversation_data_for_contact(conversation: Conversation, *, queue_position: int | None = None) -> dict[str, Any]:
    """``queue_position`` (1-based place in line) is present only when known:
    the widget merges updates, so an update without it keeps the last one."""
    data = {
        "id": conversation.pk,
        "status": conversation.status,
        "assignee": member_data(conversation.assignee),
        "context": conversation.context,
        "unread": conversation.unread_contact,
        "last_message_at": _iso(conversation.last_message_at),
        "created_at": _iso(conversation.created_at),
        "closed_at": _iso(conversation.closed_at),
    }
    if queue_position is not None:
        data["queue_position"] = queue_position
    return data


def conversation_meta(conversation: Conversation) -> dict[str, Any]:
    """What agent consumers filter on (never sent to a client)."""
    return {
        "conversation_id": conversation.pk,
        "account_id": conversation.account_id,
        "assignee_id": conversation.assignee_id,
        "campaign_id": conversation.campaign_id,
        "status": conversation.status,
    }


# --- HTML fragments for the inbox (rendered once per event) -----------------

def render_message_html(message: Message) -> str:
    return html.message_bubble(message)


def render_conversation_row_html(conversation: Conversation) -> str:
    return html.conversation_row(conversation)


# --- Fan-out ------------------------------------------------------------------

def _agent_groups(conversation: Conversation) -> list[str]:
    groups = [realtime.group_conversation(conversation.pk)]
    if conversation.assignee_id:
        groups.append(realtime.group_member(conversation.assignee_id))
    return groups


def publish_message(message: Message, *, event: str = "message.created", sender_channel: str | None = None,
                    with_conversation: bool = False, to_contact: bool = True) -> dict[str, Any]:
    """``event`` for ``message`` to the visitor's tabs and to the agents who
    see its conversation. ``sender_channel``: the visitor's socket that sent
    it (its ack carried the message): only their other tabs get it, and
    nothing is published when that socket is their only one.

    ``with_conversation``: the message changed its conversation (counters,
    preview, times) but not who sees it. The agents' copy then carries the
    conversation's new state too (``conversation``; the inbox draws its
    list row from it) and goes to the conversation's audience groups as
    well — one frame per agent socket instead of ``message.created``
    followed by ``conversation.updated`` — and the visitor's tabs get their
    ``conversation.updated`` unless ``to_contact`` is false (nothing they
    see changed). Otherwise the caller publishes the conversation.

    The visitor's copies go first, so that under load the agents' events of
    consecutive messages sit next to each other in a batch and travel to
    their groups bundled (``core.channel_layer``). Returns the message's
    wire shape (``message_data``), which the events share: not to be
    changed."""
    conversation = message.conversation
    data = message_data(message)
    meta = conversation_meta(conversation)
    if is_visible_to_contact(message):
        realtime.publish_on_commit(
            groups=[realtime.group_contact(conversation.contact_id)],
            event=event,
            data={"message": data},
            meta={**meta, "audience": "contact"},
            others_of=presence.others_of("contact", conversation.contact_id, sender_channel) if sender_channel else None,
        )
    groups = _agent_groups(conversation)
    # No bubble HTML: the sockets that show the thread draw it from the
    # message (``AgentConsumer.with_bubble``); most agents' sockets only update
    # a list row (docs/decisions.md, "The bubble drawn where the thread shows").
    agents: dict[str, Any] = {"message": data}
    if with_conversation:
        if to_contact:
            _publish_to_contact(conversation, meta)
        groups = list(dict.fromkeys(groups + _audience_groups(conversation.account_id, **audience_of(conversation))))
        agents["conversation"] = conversation_data(conversation)
    realtime.publish_on_commit(groups=groups, event=event, data=agents, meta={**meta, "audience": "agents"})
    return data


def audience_of(conversation: Conversation) -> dict[str, Any]:
    """What decides which agents see ``conversation`` (``Viewer.can_see``):
    take it before a change, pass it as ``publish_conversation(before=…)``."""
    return {"assignee_id": conversation.assignee_id, "campaign_id": conversation.campaign_id, "status": conversation.status}


def _audience_groups(account_id: int, *, assignee_id: int | None, campaign_id: int | None, status: str) -> list[str]:
    """The agent groups whose sockets may see a conversation in this state —
    the groups' mirror of ``Viewer.can_see``, so an update reaches the few
    sockets that show it instead of every agent of the account."""
    groups = [realtime.group_supervisors(account_id)]
    if assignee_id:
        groups.append(realtime.group_member(assignee_id))
    if campaign_id:
        groups.append(realtime.group_campaign(campaign_id))
    elif assignee_id is None and status in (Conversation.Status.QUEUED, Conversation.Status.BOT):
        groups.append(realtime.group_queue(account_id))
    return groups


def publish_conversation(
    conversation: Conversation,
    *,
    event: str = "conversation.updated",
    extra_member_ids=(),
    to_contact: bool = True,
    before: dict[str, Any] | None = None,
) -> None:
    """The conversation's new state to the agents who see it — and, with
    ``before`` (``audience_of`` taken before the change), to those who saw it
    until now, so their lists drop it — and (unless ``to_contact`` is false:
    nothing the visitor sees changed) to the visitor's tabs."""
    meta = conversation_meta(conversation)
    member_ids = [mid for mid in dict.fromkeys(extra_member_ids) if mid]
    now = audience_of(conversation)
    groups = _audience_groups(conversation.account_id, **now)
    if before is not None and before != now:
        groups += _audience_groups(conversation.account_id, **before)
        meta["before"] = before
    groups += [realtime.group_member(mid) for mid in member_ids]
    realtime.publish_on_commit(
        groups=list(dict.fromkeys(groups)),
        event=event,
        data={
            "conversation": conversation_data(conversation),
            "html": render_conversation_row_html(conversation),
        },
        # member_ids: members addressed on purpose (e.g. the previous
        # assignee), who get the update even when they can no longer see it.
        meta={**meta, "audience": "agents", "member_ids": member_ids},
    )
    if to_contact:
        _publish_to_contact(conversation, meta, event=event)


def _publish_to_contact(conversation: Conversation, meta: dict[str, Any], *, event: str = "conversation.updated") -> None:
    realtime.publish_on_commit(
        groups=[realtime.group_contact(conversation.contact_id)],
        event=event,
        data={"conversation": conversation_data_for_contact(conversation)},
        meta={**meta, "audience": "contact"},
    )


def publish_read(conversation: Conversation, *, reader: str, up_to_id: int) -> None:
    data = {"conversation_id": conversation.pk, "reader": reader, "up_to_id": up_to_id}
    meta = conversation_meta(conversation)
    groups = _agent_groups(conversation) + [realtime.group_contact(conversation.contact_id)]
    realtime.publish_on_commit(groups=groups, event="message.read", data=data, meta=meta)


def publish_session_revoked(contact) -> None:
    """The visitor's tokens were revoked: their sockets close (code 4401)."""
    realtime.publish_on_commit(
        groups=[realtime.group_contact(contact.pk)],
        event="session.revoked",
        data={"contact_id": contact.pk},
        meta={"account_id": contact.account_id, "audience": "contact"},
    )


def publish_presence_contact(contact, *, account_id: int) -> None:
    realtime.publish_on_commit(
        groups=[realtime.group_account(account_id)],
        event="presence",
        data={
            "contact_id": contact.pk,
            "online": contact.is_online,
            "page_url": contact.current_page_url or None,
            "page_title": contact.current_page_title or None,
        },
    )


def publish_presence_member(membership) -> None:
    realtime.publish_on_commit(
        groups=[realtime.group_account(membership.account_id)],
        event="presence",
        data={"member_id": membership.pk, "availability": membership.availability, "name": membership.user.display_name},
    )
