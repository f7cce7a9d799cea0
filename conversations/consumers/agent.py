"""``/ws/agent/``: one inbox tab (or API client) of a member.

Authenticated by the session cookie, or ``?token=<JWT access>``; the account
is ``?account=<slug>``, the session's chosen account, or the first
membership. Joins ``acct.<id>`` and ``member.<id>``, and ``conv.<id>`` for
conversations it opens with ``conversation.join``. Every forwarded event is
filtered with the member's :class:`~conversations.selectors.Viewer`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import Membership
from core import presence, realtime
from core.exceptions import ValidationError

from .. import events, html, services
from ..selectors import (
    Viewer,
    conversation_get_for_member,
    conversation_queryset,
    message_list,
    viewer_for,
    visible_q,
)
from ..services.members import ACCESS_CHANGED
from ..ws_auth import (
    CLOSE_FORBIDDEN_ORIGIN,
    CLOSE_UNAUTHENTICATED,
    agent_authenticate,
    is_own_host,
    query_param,
    scope_origin_host,
)
from .base import RealtimeConsumer, hop, run_later
from .frames import Fields
from .widget import replay_frames, resume_max

logger = logging.getLogger(__name__)

MAX_JOINED = 100

#: Events whose frame carries a message that a thread draws.
_BUBBLED = frozenset({"message.created", "message.updated"})


# --- the one worker-thread step of each frame ------------------------------------

def _open(scope: dict[str, Any], token: str | None, account: str | None,
          channel_name: str) -> tuple[Membership | None, Viewer | None, str | None]:
    membership = agent_authenticate(scope, token=token, account_slug=account)
    if membership is None:
        return None, None, None
    viewer = viewer_for(membership)
    services.member_connection_opened(membership=membership, channel_name=channel_name)
    return membership, viewer, membership.user.language or membership.account.locale or None


def _groups_for(viewer: Viewer) -> list[str]:
    """The account's signals (presence), the member's own, and the audience
    groups of what the member may see (``events._audience_groups``)."""
    groups = [realtime.group_account(viewer.account_id), realtime.group_member(viewer.membership_id)]
    if viewer.is_supervisor:
        return groups + [realtime.group_supervisors(viewer.account_id)]
    groups.append(realtime.group_queue(viewer.account_id))
    return groups + [realtime.group_campaign(cid) for cid in sorted(viewer.campaign_ids)]


def _send(membership: Membership, viewer: Viewer, **kwargs: Any) -> dict[str, Any]:
    result = services.agent_message_send(membership=membership, viewer=viewer, **kwargs)
    return realtime.build_frame(
        "message.ack",
        {
            "client_id": result.message.client_id or None,
            "message": events.message_data(result.message),
            "duplicate": not result.created,
        },
    )


def _typing(membership: Membership, viewer: Viewer, conversation_id: int, state: str, private: bool) -> None:
    conversation = conversation_get_for_member(membership=membership, conversation_id=conversation_id, viewer=viewer)
    services.typing_set(
        conversation=conversation, who_type="agent", who_id=membership.pk,
        who_name=membership.user.display_name, state=state, private=private,
    )


def _read(membership: Membership, viewer: Viewer, conversation_id: int, message_id: int) -> None:
    conversation = conversation_get_for_member(membership=membership, conversation_id=conversation_id, viewer=viewer)
    services.message_mark_read(conversation=conversation, reader="agent", up_to_id=message_id)


def _visible_id(membership: Membership, viewer: Viewer, conversation_id: int) -> int:
    return conversation_get_for_member(membership=membership, conversation_id=conversation_id, viewer=viewer).pk


def _resume(membership: Membership, viewer: Viewer, conversation_id: int, after_id: int) -> list[dict[str, Any]]:
    conversation = conversation_get_for_member(membership=membership, conversation_id=conversation_id, viewer=viewer)
    cap = resume_max()
    messages = message_list(conversation=conversation, after=after_id, limit=cap + 1, include_private=True)
    more = len(messages) > cap
    return replay_frames(messages[:cap], conversation_id=conversation.pk, after_id=after_id, more=more, html=True)


def _reload(membership_id: int, joined: set[int]) -> tuple[Membership | None, Viewer | None, set[int]]:
    """The member as it is now (``None`` once removed), its viewer, and which
    of the ``joined`` conversations it may no longer see."""
    membership = Membership.objects.select_related("user", "account").filter(pk=membership_id, is_active=True).first()
    if membership is None:
        return None, None, set(joined)
    viewer = viewer_for(membership)
    visible: set[int] = set()
    if joined:
        still = conversation_queryset(account_id=viewer.account_id).filter(visible_q(viewer), pk__in=joined)
        visible = set(still.values_list("pk", flat=True))
    return membership, viewer, set(joined) - visible


def _close(membership: Membership, channel_name: str) -> int:
    return services.member_connection_closed(membership=membership, channel_name=channel_name)


def _settle(membership: Membership) -> None:
    services.member_presence_settle(membership=membership)


class AgentConsumer(RealtimeConsumer):
    kind = "agent"
    frame_handlers = {
        "message.send": "on_message_send",
        "typing": "on_typing",
        "read": "on_read",
        "conversation.join": "on_join",
        "conversation.leave": "on_leave",
        "resume": "on_resume",
        "presence.set": "on_presence_set",
        "ping": "on_ping",
    }

    membership: Membership | None = None
    viewer: Viewer | None = None

    async def connect(self) -> None:
        token = query_param(self.scope, "token")
        host = scope_origin_host(self.scope)
        # A browser always sends Origin: it must be one of ours. No Origin
        # means no browser, and then only a JWT (never a cookie) is accepted.
        if (host is not None and not is_own_host(host)) or (host is None and not token):
            await self.deny(CLOSE_FORBIDDEN_ORIGIN, _("Connections from this origin are not allowed."))
            return
        membership, viewer, language = await hop(_open)(
            self.scope, token, query_param(self.scope, "account"), self.channel_name
        )
        if membership is None:
            await self.deny(CLOSE_UNAUTHENTICATED, _("Log in to connect."))
            return
        self.membership, self.viewer = membership, viewer
        self.language = language
        self.joined: set[int] = set()
        self.groups_joined = _groups_for(viewer)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.opened()

    async def disconnect(self, code: int) -> None:
        membership = self.membership
        if membership is None:
            return
        self.membership = None
        groups = self.groups_joined + [realtime.group_conversation(cid) for cid in self.joined]
        try:
            for group in groups:
                await self.channel_layer.group_discard(group, self.channel_name)
            left = await hop(_close)(membership, self.channel_name)
        except Exception:
            logger.exception("agent disconnect bookkeeping failed")
            left = 0
        if left == 0:
            grace = float(settings.CHARLA.get("PRESENCE_GRACE_SECONDS", 10))
            run_later(grace, lambda: hop(_settle)(membership))

    # --- frames ------------------------------------------------------------------

    async def on_message_send(self, f: Fields) -> None:
        kwargs = {
            "conversation_id": f.id("conversation_id"),
            "client_id": f.client_id(),
            "content": f.text("content", max_length=settings.CHARLA["MESSAGE_MAX_CHARS"] * 2),
            "kind": f.text("kind", max_length=32) or "text",
            "payload": f.obj("payload"),
            "attachment_ids": f.ids("attachments"),
            "private": f.flag("private"),
        }
        await self.send_json(await hop(_send)(self.membership, self.viewer, **kwargs))

    async def on_typing(self, f: Fields) -> None:
        conversation_id, state = f.id("conversation_id"), f.choice("state", ("start", "stop"))
        await hop(_typing)(self.membership, self.viewer, conversation_id, state, f.flag("private"))

    async def on_read(self, f: Fields) -> None:
        conversation_id, message_id = f.id("conversation_id"), f.id("message_id")
        await hop(_read)(self.membership, self.viewer, conversation_id, message_id)

    async def on_join(self, f: Fields) -> None:
        conversation_id = f.id("conversation_id")
        if conversation_id not in self.joined and len(self.joined) >= MAX_JOINED:
            raise ValidationError(_("Too many open conversations on one connection."), code="too_many")
        # The group name is built from the row the member may see, never
        # from the client's value.
        visible_id = await hop(_visible_id)(self.membership, self.viewer, conversation_id)
        await self.channel_layer.group_add(realtime.group_conversation(visible_id), self.channel_name)
        self.joined.add(visible_id)
        await self.send_json(realtime.build_frame("conversation.joined", {"conversation_id": visible_id}))

    async def on_leave(self, f: Fields) -> None:
        conversation_id = f.id("conversation_id")
        if conversation_id in self.joined:
            self.joined.discard(conversation_id)
            await self.channel_layer.group_discard(realtime.group_conversation(conversation_id), self.channel_name)
        await self.send_json(realtime.build_frame("conversation.left", {"conversation_id": conversation_id}))

    async def on_resume(self, f: Fields) -> None:
        conversation_id, after_id = f.id("conversation_id"), f.id("after_id", minimum=0)
        for frame in await hop(_resume)(self.membership, self.viewer, conversation_id, after_id):
            await self.send_json(frame)

    async def on_presence_set(self, f: Fields) -> None:
        availability = f.choice("availability", tuple(Membership.Availability.values))
        self.membership = await hop(services.member_set_availability)(
            membership=self.membership, availability=availability
        )

    async def on_ping(self, f: Fields) -> None:
        await hop(presence.refresh)("member", self.membership.pk, self.channel_name)
        await self.pong()

    # --- events ------------------------------------------------------------------

    async def forward(self, frame: dict[str, Any], meta: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == ACCESS_CHANGED:
            await self.refresh_access()
            return
        if kind in _BUBBLED:
            frame = self.with_bubble(frame)
        await super().forward(frame, meta)

    def with_bubble(self, frame: dict[str, Any]) -> dict[str, Any]:
        """A message's frame with its bubble (``data.html``) when this socket
        shows its thread (joined the conversation). The sender renders none:
        most of the agents' sockets a message reaches only update a list row.
        The frame is shared with the process's other sockets: copied."""
        data = frame.get("data")
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict) or "html" in data or message.get("conversation_id") not in self.joined:
            return frame
        return {**frame, "data": {**data, "html": html.message_bubble_of_data(message)}}

    async def refresh_access(self) -> None:
        """The member's role or campaigns changed, or they were removed:
        read what they may see again, move the socket to the audience groups
        that go with it, leave opened conversations they may no longer see
        (``conversation.left``), and close (4401) once removed."""
        if self.membership is None:
            return
        membership, viewer, gone = await hop(_reload)(self.membership.pk, set(self.joined))
        if membership is None:
            self.ready = False
            await self.close(code=CLOSE_UNAUTHENTICATED, reason=_("You are no longer a member of this team."))
            return
        groups = _groups_for(viewer)
        for group in set(self.groups_joined) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in groups:
            if group not in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
        self.membership, self.viewer, self.groups_joined = membership, viewer, groups
        for conversation_id in sorted(gone):
            self.joined.discard(conversation_id)
            await self.channel_layer.group_discard(realtime.group_conversation(conversation_id), self.channel_name)
            await self.send_json(realtime.build_frame("conversation.left", {"conversation_id": conversation_id}))

    def may_forward(self, frame: dict[str, Any], meta: dict[str, Any]) -> bool:
        viewer = self.viewer
        if viewer is None or meta.get("audience") == "contact":
            return False
        if meta.get("audience") == "internal":
            return frame.get("type") == ACCESS_CHANGED
        account_id = meta.get("account_id")
        if account_id is not None and account_id != viewer.account_id:
            return False
        if frame.get("type") == "typing":
            who = (frame.get("data") or {}).get("who") or {}
            if who.get("type") == "agent" and who.get("id") == viewer.membership_id:
                return False  # one's own typing
        if "conversation_id" not in meta or "status" not in meta:
            return True  # presence and other account-wide signals
        if viewer.membership_id in (meta.get("member_ids") or ()):
            return True  # addressed to this member (e.g. reassigned away from them)
        if viewer.can_see(
            account_id=account_id,
            assignee_id=meta.get("assignee_id"),
            campaign_id=meta.get("campaign_id"),
            status=meta.get("status"),
        ):
            return True
        # It left this member's sight (taken from the queue, moved to another
        # campaign): the update still comes, so their lists drop it.
        before = meta.get("before")
        return isinstance(before, dict) and viewer.can_see(
            account_id=account_id,
            assignee_id=before.get("assignee_id"),
            campaign_id=before.get("campaign_id"),
            status=before.get("status"),
        )
