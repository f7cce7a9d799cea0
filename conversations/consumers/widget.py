"""``/ws/widget/?token=<visitor_token>``: one visitor tab.

Joins ``contact.<id>`` (every tab of the visitor). Frames: ``message.send``,
``typing``, ``read``, ``resume``, ``page.view``, ``ping``. See
docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from core import presence, realtime
from core.exceptions import PermissionDenied

from .. import events, services
from ..models import Contact, Message
from ..selectors import conversation_get_for_contact, message_list
from ..ws_auth import (
    CLOSE_FORBIDDEN_ORIGIN,
    CLOSE_UNAUTHENTICATED,
    query_param,
    scope_origin_host,
    widget_origin_allowed,
)
from .base import RealtimeConsumer, hop, run_later
from .frames import Fields

logger = logging.getLogger(__name__)

DEFAULT_RESUME_MAX = 500
ACKED_REMEMBERED = 32


# --- the one worker-thread step of each frame ------------------------------------

def _open(token: str | None, host: str | None, channel_name: str) -> tuple[Contact | None, int, str]:
    if not token:
        return None, CLOSE_UNAUTHENTICATED, _("A visitor token is required.")
    try:
        contact = services.visitor_token_read(token[:4096])
    except PermissionDenied as exc:
        return None, CLOSE_UNAUTHENTICATED, exc.message
    if not widget_origin_allowed(contact.site, host):
        return None, CLOSE_FORBIDDEN_ORIGIN, _("This website may not use this chat.")
    services.contact_connection_opened(contact=contact, channel_name=channel_name)
    return contact, 0, ""


def contact_send_checked(contact: Contact, **kwargs: Any):
    """``contact_message_send`` behind the visitor's flood limit (shared by
    every tab and by the HTTP fallback; counted by the send itself, on the
    conversation's row)."""
    limit = int(settings.CHARLA.get("RATE_LIMIT_PER_CONTACT", 30))
    return services.contact_message_send(contact=contact, flood_limit=limit, **kwargs)


def _send(contact: Contact, **kwargs: Any) -> dict[str, Any]:
    return _ack(contact_send_checked(contact, **kwargs))


async def _send_on_loop(contact: Contact, **kwargs: Any) -> dict[str, Any] | None:
    """The usual message — into the visitor's open chat — sent from the
    event loop (``services.contact_message_send_async``); None when the send
    needs the worker-thread path (``_send``)."""
    limit = int(settings.CHARLA.get("RATE_LIMIT_PER_CONTACT", 30))
    # Shielded: a socket torn down mid-send must not stop between the
    # commit and the events (on a worker thread the send runs on anyway).
    result = await asyncio.shield(services.contact_message_send_async(contact=contact, flood_limit=limit, **kwargs))
    return None if result is None else _ack(result)


def _ack(result: Any) -> dict[str, Any]:
    return realtime.build_frame(
        "message.ack",
        {
            "client_id": result.message.client_id or None,
            "message": result.data or events.message_data(result.message),
            "duplicate": not result.created,
        },
    )


def _typing(contact: Contact, conversation_id: int, state: str) -> None:
    conversation = conversation_get_for_contact(contact=contact, conversation_id=conversation_id)
    services.typing_set(
        conversation=conversation, who_type="contact", who_id=contact.pk, who_name=contact.display_name, state=state
    )


def _read(contact: Contact, conversation_id: int, message_id: int) -> None:
    conversation = conversation_get_for_contact(contact=contact, conversation_id=conversation_id)
    services.message_mark_read(conversation=conversation, reader="contact", up_to_id=message_id)


def mark_delivered_to_contact(messages: list[Message]) -> None:
    """Agent and bot messages the visitor now has: sent → delivered."""
    for message in messages:
        waiting = message.sender_type in (Message.Sender.AGENT, Message.Sender.BOT) and message.status == Message.Status.SENT
        if waiting and services.message_mark_delivered(account_id=message.account_id, message_id=message.pk):
            message.status = Message.Status.DELIVERED


def replay_frames(messages: list[Message], *, conversation_id: int, after_id: int, more: bool,
                  html: bool = False) -> list[dict[str, Any]]:
    """``message.created`` frames for ``messages`` then one ``resume.done``."""
    out = []
    for message in messages:
        data: dict[str, Any] = {"message": events.message_data(message)}
        if html:
            data["html"] = events.render_message_html(message)
        out.append(realtime.build_frame("message.created", data))
    last_id = messages[-1].pk if messages else after_id
    out.append(realtime.build_frame("resume.done", {"conversation_id": conversation_id, "last_id": last_id, "more": more}))
    return out


def resume_max() -> int:
    return int(settings.CHARLA.get("RESUME_MAX", DEFAULT_RESUME_MAX))


def _resume(contact: Contact, conversation_id: int, after_id: int) -> list[dict[str, Any]]:
    conversation = conversation_get_for_contact(contact=contact, conversation_id=conversation_id)
    cap = resume_max()
    messages = message_list(conversation=conversation, after=after_id, limit=cap + 1, include_private=False)
    more = len(messages) > cap
    messages = messages[:cap]
    mark_delivered_to_contact(messages)
    return replay_frames(messages, conversation_id=conversation.pk, after_id=after_id, more=more)


def _settle(contact: Contact) -> None:
    services.contact_presence_settle(contact=contact)


class WidgetConsumer(RealtimeConsumer):
    kind = "widget"
    frame_handlers = {
        "message.send": "on_message_send",
        "typing": "on_typing",
        "read": "on_read",
        "resume": "on_resume",
        "page.view": "on_page_view",
        "ping": "on_ping",
    }

    contact: Contact | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        #: client_ids this tab sent and got acked: their ``message.created``
        #: echo is not forwarded back to it (the ack carried the message);
        #: the visitor's other tabs still get it.
        self._acked: deque[str] = deque(maxlen=ACKED_REMEMBERED)

    async def connect(self) -> None:
        contact, code, reason = await hop(_open)(
            query_param(self.scope, "token"), scope_origin_host(self.scope), self.channel_name
        )
        if contact is None:
            await self.deny(code, reason)
            return
        self.contact = contact
        self.language = contact.locale or contact.account.locale or None
        self.group = realtime.group_contact(contact.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.opened()

    async def disconnect(self, code: int) -> None:
        contact = self.contact
        if contact is None:
            return
        self.contact = None
        try:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            left = await hop(services.contact_connection_closed)(contact=contact, channel_name=self.channel_name)
        except Exception:
            logger.exception("widget disconnect bookkeeping failed")
            left = 0
        if left == 0:
            grace = float(settings.CHARLA.get("PRESENCE_GRACE_SECONDS", 10))
            run_later(grace, lambda: hop(_settle)(contact))

    # --- frames ------------------------------------------------------------------

    async def on_message_send(self, f: Fields) -> None:
        kwargs = {
            "conversation_id": f.id("conversation_id", required=False),
            "client_id": f.client_id(),
            "content": f.text("content", max_length=settings.CHARLA["MESSAGE_MAX_CHARS"] * 2),
            "kind": f.text("kind", max_length=32) or Message.Kind.TEXT,
            "payload": f.obj("payload"),
            "attachment_ids": f.ids("attachments"),
            "context": f.obj("context"),
            # Its ack carries the message: only the visitor's other tabs get it.
            "sender_channel": self.channel_name,
        }
        ack = await _send_on_loop(self.contact, **kwargs) or await hop(_send)(self.contact, **kwargs)
        if ack["data"]["client_id"]:
            self._acked.append(ack["data"]["client_id"])
        await self.send_json(ack)

    async def on_typing(self, f: Fields) -> None:
        conversation_id = f.id("conversation_id")
        state = f.choice("state", ("start", "stop"))
        await hop(_typing)(self.contact, conversation_id, state)

    async def on_read(self, f: Fields) -> None:
        conversation_id, message_id = f.id("conversation_id"), f.id("message_id")
        await hop(_read)(self.contact, conversation_id, message_id)

    async def on_resume(self, f: Fields) -> None:
        conversation_id, after_id = f.id("conversation_id"), f.id("after_id", minimum=0)
        for frame in await hop(_resume)(self.contact, conversation_id, after_id):
            await self.send_json(frame)

    async def on_page_view(self, f: Fields) -> None:
        url, title = f.text("url", required=True, max_length=2000), f.text("title", max_length=300)
        await hop(services.contact_page_view)(contact=self.contact, url=url, title=title)

    async def on_ping(self, f: Fields) -> None:
        await hop(presence.refresh)("contact", self.contact.pk, self.channel_name)
        await self.pong()

    # --- events ------------------------------------------------------------------

    def may_forward(self, frame: dict[str, Any], meta: dict[str, Any]) -> bool:
        if meta.get("audience") in ("agents", "internal"):
            return False
        account_id = meta.get("account_id")
        if account_id is not None and account_id != self.contact.account_id:
            return False
        if frame.get("type") == "message.created" and self._acked:
            message = (frame.get("data") or {}).get("message") or {}
            if message.get("client_id") in self._acked and (message.get("sender") or {}).get("type") == "contact":
                return False  # this tab's own send, already acked
        return True

    async def forward(self, frame: dict[str, Any], meta: dict[str, Any]) -> None:
        await super().forward(frame, meta)
        kind = frame.get("type")
        if kind == "session.revoked":
            self.ready = False
            await self.close(code=CLOSE_UNAUTHENTICATED, reason=_("Your chat session was ended."))
            return
        if kind != "message.created":
            return
        message = (frame.get("data") or {}).get("message") or {}
        sender = (message.get("sender") or {}).get("type")
        if sender in ("agent", "bot") and message.get("status") == "sent" and isinstance(message.get("id"), int):
            try:
                await hop(services.message_mark_delivered)(
                    account_id=self.contact.account_id, message_id=message["id"]
                )
            except Exception:
                logger.exception("marking a message delivered failed")
