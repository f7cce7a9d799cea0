"""Email when the other side is away (issue: live core, offline notification).

At most one email per conversation and recipient per 10 minutes.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from core import presence

from ..models import Message


def message_notify_offline(*, message_id: int) -> str | None:
    """Email the recipient of ``message_id`` if they have no live socket.

    Returns the address emailed, or None.
    """
    message = (
        Message.objects.select_related("conversation__contact", "conversation__assignee__user", "conversation__account", "sender_membership__user")
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.kind == Message.Kind.NOTE:
        return None
    conversation = message.conversation
    interval = settings.CHARLA["OFFLINE_EMAIL_INTERVAL"]
    if message.sender_type == Message.Sender.CONTACT:
        assignee = conversation.assignee
        if assignee is None or presence.is_live("member", assignee.pk):
            return None
        recipient = assignee.user.email
        language = assignee.user.language or conversation.account.locale
        link = f"{settings.PUBLIC_URL}/app/conversations/{conversation.pk}/"
        with translation.override(language):
            subject = _("New message from %(name)s") % {"name": conversation.contact.display_name}
            body = _("%(name)s wrote:\n\n%(text)s\n\nReply in Charla: %(link)s") % {
                "name": conversation.contact.display_name, "text": message.content, "link": link,
            }
    elif message.sender_type == Message.Sender.AGENT:
        contact = conversation.contact
        if not contact.email or presence.is_live("contact", contact.pk):
            return None
        recipient = contact.email
        language = contact.locale or conversation.account.locale
        link = contact.current_page_url or (conversation.context or {}).get("url") or settings.PUBLIC_URL
        with translation.override(language):
            subject = _("New reply from %(team)s") % {"team": conversation.account.name}
            body = _("%(agent)s replied:\n\n%(text)s\n\nContinue the conversation: %(link)s") % {
                "agent": message.sender_membership.user.display_name if message.sender_membership else conversation.account.name,
                "text": message.content, "link": link,
            }
    else:
        return None
    key = f"offline-email:{conversation.pk}:{recipient}"
    if not cache.add(key, 1, timeout=interval):
        return None
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    return recipient
