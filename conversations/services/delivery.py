"""Outbound delivery, channel-agnostic.

``deliver(message)`` hands an outbound message (agent, bot or system, visible
to the customer) to the sender registered for its conversation's channel:

* ``web``: nothing to do — the widget gets the message over its socket
  (``message.created``) and the offline email covers absent visitors;
* ``whatsapp`` / ``sms``: a :class:`ChannelSender`. The Twilio issue registers
  its sender in its ``AppConfig.ready()`` with ``delivery.register("whatsapp",
  TwilioWhatsAppSender())``; until then a placeholder marks the message
  ``failed`` with "channel not configured", so the failure is visible in the
  inbox instead of the message silently never leaving.

Messages that need a channel are stored with status ``sending``; ``deliver``
ignores any other status, so a repeat (a retried task, a second worker) never
sends twice. A sender reports the outcome with
``conversations.services.message_status_update``.

Templates: WhatsApp only accepts free text within 24 hours of the customer's
last message; outside it the payload carries ``content_sid`` (an approved
template) and the sender must use it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from django.core.cache import cache

from ..models import Conversation, Message

logger = logging.getLogger(__name__)

CHANNEL_NOT_CONFIGURED = "channel not configured"
WHATSAPP_WINDOW_HOURS = 24


class ChannelSender(Protocol):
    def send(self, message: Message) -> None:
        """Send ``message`` (status ``sending``) and report the outcome with
        ``message_status_update`` (``sent`` + ``external_id``, or ``failed`` + error)."""


class NotConfiguredSender:
    """Placeholder until a real channel integration registers itself."""

    def send(self, message: Message) -> None:
        from .messages import message_status_update

        message_status_update(
            account_id=message.account_id, message_id=message.pk, status=Message.Status.FAILED,
            error=CHANNEL_NOT_CONFIGURED,
        )


class WebSender:
    """The widget reads messages from its socket: nothing to send."""

    def send(self, message: Message) -> None:
        return None


_senders: dict[str, ChannelSender] = {}


def register(channel: str, sender: ChannelSender) -> None:
    _senders[channel] = sender


def sender_for(channel: str) -> ChannelSender:
    if channel == Conversation.Channel.WEB:
        return _senders.get(channel, WebSender())
    return _senders.get(channel, NotConfiguredSender())


def needs_channel(conversation: Conversation) -> bool:
    return conversation.channel != Conversation.Channel.WEB


def deliver(message: Message) -> bool:
    """Send one outbound message on its conversation's channel. Returns True
    when a sender was called."""
    conversation = message.conversation
    if not needs_channel(conversation):
        return False
    if message.status != Message.Status.SENDING:
        return False
    if not cache.add(f"delivery:claim:{message.pk}", 1, timeout=3600):
        return False  # another worker is sending it
    sender_for(conversation.channel).send(message)
    return True


def deliver_by_id(*, message_id: int) -> bool:
    message = Message.objects.select_related("conversation__account", "conversation__contact").filter(pk=message_id).first()
    if message is None:
        return False
    return deliver(message)
