"""Template helpers for the inbox: ``{% load inbox %}``.

``{% inbox_icon "paperclip" "icon--sm" %}`` adds the inbox's icons to the
shared set of ``charla_ui``; filters format what the fragments show and the
wire formats they carry in data attributes (so the live client can sort and
filter rows without asking the server).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from html import escape as _escape

from django import template
from django.apps import apps
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from accounts.templatetags.charla_ui import ICONS as SHARED_ICONS
from accounts.templatetags.charla_ui import avatar_colour

register = template.Library()


def esc(value) -> str:
    """``conditional_escape``, the same text, without the wrapper that checks
    every call's arguments for lazy strings (a fifth of a fragment's cost:
    a list row and a message bubble escape about forty values)."""
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return _escape(str(value))

ICONS = {
    "paperclip": '<path d="m20.5 11.5-8.3 8.3a5 5 0 0 1-7.1-7.1l8.4-8.4a3.3 3.3 0 0 1 4.7 4.7l-8.4 8.4a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8"/>',
    "note": '<path d="M5 4h14v10l-6 6H5z"/><path d="M13 20v-6h6"/>',
    "moon": '<path d="M20 14.5A8 8 0 1 1 9.5 4a6.5 6.5 0 0 0 10.5 10.5z"/>',
    "check-circle": '<circle cx="12" cy="12" r="9"/><path d="m8 12.5 2.8 2.8L16 10"/>',
    "user-plus": '<circle cx="10" cy="8" r="4"/><path d="M3 21c.7-4 3.6-6.5 7-6.5 1.6 0 3 .5 4.2 1.4"/><path d="M19 14v6M16 17h6"/>',
    "user-minus": '<circle cx="10" cy="8" r="4"/><path d="M3 21c.7-4 3.6-6.5 7-6.5 1.6 0 3 .5 4.2 1.4"/><path d="M16 17h6"/>',
    "user-check": '<circle cx="10" cy="8" r="4"/><path d="M3 21c.7-4 3.6-6.5 7-6.5 1.6 0 3 .5 4.2 1.4"/><path d="m15.5 17.5 2 2 4-4"/>',
    "search": '<circle cx="11" cy="11" r="7"/><path d="m20 20-3.5-3.5"/>',
    "filter": '<path d="M4 5h16l-6 7.5V19l-4 2v-8.5z"/>',
    "phone": '<path d="M5 4h3.5l1.5 4-2 1.5a11 11 0 0 0 6.5 6.5L16 14l4 1.5V19a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2z"/>',
    "file": '<path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/><path d="M14 3v5h5"/>',
    "image": '<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/><path d="m21 16-5-5-9 9"/>',
    "external": '<path d="M14 4h6v6M20 4l-9 9"/><path d="M19 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1h5"/>',
    "bell": '<path d="M6 16v-5a6 6 0 1 1 12 0v5l1.5 2h-15z"/><path d="M10 20.5a2 2 0 0 0 4 0"/>',
    "volume": '<path d="M4 9.5h3.5L12 5.5v13l-4.5-4H4z"/><path d="M16 9a4 4 0 0 1 0 6M18.5 6.5a7.5 7.5 0 0 1 0 11"/>',
    "volume-x": '<path d="M4 9.5h3.5L12 5.5v13l-4.5-4H4z"/><path d="m16 10 4 4M20 10l-4 4"/>',
    "keyboard": '<rect x="2.5" y="6" width="19" height="12" rx="2"/><path d="M6 10h.01M10 10h.01M14 10h.01M18 10h.01M7 14h10"/>',
    "whatsapp": '<path d="M4 20.5 5.3 16A8.5 8.5 0 1 1 8.4 19z"/><path d="M9 9.5c.3 2.2 2.3 4.2 4.5 4.7l1-1.2 1.8.8-.5 1.6c-3.5.3-7.3-3.4-7-7l1.6-.5.8 1.8z"/>',
    "map-pin": '<path d="M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z"/><circle cx="12" cy="9.5" r="2.5"/>',
    "flag": '<path d="M5 21V4M5 4h12l-2.5 4.5L17 13H5"/>',
    "tag": '<path d="M3.5 12.5V4.5a1 1 0 0 1 1-1h8l8 8a1.5 1.5 0 0 1 0 2.1l-7 7a1.5 1.5 0 0 1-2.1 0z"/><circle cx="8" cy="8" r="1.3"/>',
    "reopen": '<path d="M9 14 4 9l5-5"/><path d="M4 9h10a6 6 0 0 1 0 12h-3"/>',
    "info": '<circle cx="12" cy="12" r="9"/><path d="M12 11v5.5M12 7.5v.01"/>',
    "panel-right": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M15 4v16"/>',
    "chevron-up": '<path d="m6 15 6-6 6 6"/>',
    "zap": '<path d="M13 3 5 13.5h6L10 21l8-10.5h-6z"/>',
    "star": '<path d="m12 3.5 2.6 5.3 5.9.9-4.3 4.1 1 5.8-5.2-2.7-5.2 2.7 1-5.8-4.3-4.1 5.9-.9z"/>',
    "cursor": '<path d="m5 4 13 6.5-5.5 1.5L10.5 18z"/>',
    "wifi-off": '<path d="m3 3 18 18"/><path d="M8.5 16.5a5 5 0 0 1 7 0M5 12.8a10 10 0 0 1 4.2-2.4M19 12.8a10 10 0 0 0-3-2.1M2 9a15 15 0 0 1 5.2-3.2M22 9a15 15 0 0 0-11-3.9"/><path d="M12 20h.01"/>',
    "more": '<circle cx="5" cy="12" r="1.3"/><circle cx="12" cy="12" r="1.3"/><circle cx="19" cy="12" r="1.3"/>',
    "bot": '<rect x="4" y="8" width="16" height="12" rx="3"/><path d="M12 4v4M9 13.5v.01M15 13.5v.01"/>',
    "ticks": '<path d="m2.5 12.5 4 4L14 9"/><path d="m11 16 .5.5L19 9"/>',
    "sms": '<rect x="3" y="5" width="18" height="13" rx="2"/><path d="M7 21v-3M8 10h.01M12 10h.01M16 10h.01"/>',
    "history": '<path d="M3.5 12a8.5 8.5 0 1 0 2.5-6"/><path d="M3.5 4v4h4"/><path d="M12 8v4.5l3 2"/>',
    "inbox-in": '<path d="M12 3v9M8.5 8.5 12 12l3.5-3.5"/><path d="M3 14h5l1.5 2.5h5L16 14h5v5a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z"/>',
}
CHANNEL_ICONS = {"web": "globe", "whatsapp": "whatsapp", "sms": "sms"}


@register.simple_tag
def inbox_icon(name: str, css: str = "", label: str = ""):
    return _icon(str(name), str(css), str(label))


@lru_cache(maxsize=512)
def _icon(name: str, css: str, label: str):
    # Rendered once per (name, class, label): a thread draws the same few icons hundreds of times.
    body = ICONS.get(name) or SHARED_ICONS.get(name) or SHARED_ICONS["alert"]
    aria = format_html('role="img" aria-label="{}"', label) if label else mark_safe('aria-hidden="true"')
    return format_html(
        '<svg class="icon {}" viewBox="0 0 24 24" {} focusable="false">{}</svg>', css, aria, mark_safe(body)
    )


@register.simple_tag
def conversation_row(conversation, active_id=None):
    """``{% conversation_row conversation active_id %}``: a list row (``conversations.html``)."""
    from ..html import conversation_row as render

    return render(conversation, active_id)


@register.simple_tag
def message_bubble(message):
    """``{% message_bubble message %}``: a message in a thread (``conversations.html``)."""
    from ..html import message_bubble as render

    return render(message)


@register.filter
def channel_icon(channel: str) -> str:
    return CHANNEL_ICONS.get(channel, "message")


@register.filter
def initials(value) -> str:
    """Two letters for an avatar: "Ana María López" → "AL", "ana@x.test" → "A".
    Empty when the name has no letters (a phone number): templates draw an icon."""
    text = str(value or "").strip()
    if "@" in text and " " not in text:
        text = text.split("@")[0]
    words = [w for w in text.replace(".", " ").replace("_", " ").split() if w[:1].isalpha()]
    if not words:
        return ""
    if len(words) == 1:
        return words[0][0].upper()
    return (words[0][0] + words[-1][0]).upper()


@register.filter
def colour(value) -> str:
    return avatar_colour(value)


@register.filter
def iso(value: datetime | None) -> str:
    """The wire format of ``conversations.events`` (so the client compares like with like)."""
    return value.isoformat().replace("+00:00", "Z") if value else ""


@register.filter(expects_localtime=True)
def hm(value) -> str:
    """``{{ when|hm }}`` shows what ``|time:"H:i"`` shows (hours and minutes in
    the current time zone) without the format machinery: a row or a message
    draws one, hundreds of times per page."""
    try:
        return f"{value.hour:02d}:{value.minute:02d}" if value else ""
    except AttributeError:
        return ""


@lru_cache(maxsize=64)
def _choice_labels(app_model: str, field_name: str) -> dict:
    model = apps.get_model(app_model)
    return dict(model._meta.get_field(field_name).flatchoices)


@register.filter
def label(instance, field_name: str) -> str:
    """``{{ conversation|label:"channel" }}`` = ``{{ conversation.get_channel_display }}``
    (the choice's label in the active language, or the raw value), without
    rebuilding the field's choices on every call."""
    value = getattr(instance, field_name)
    labels = _choice_labels(instance._meta.label, field_name)
    return str(labels.get(value, value))


_URL_SENTINEL = 9_876_543_210_123


@lru_cache(maxsize=16)
def _conversation_url_pattern(script_prefix: str, urlconf) -> tuple[str, str]:
    url = reverse("inbox:conversation", args=[_URL_SENTINEL], urlconf=urlconf)
    head, _sep, tail = url.partition(str(_URL_SENTINEL))
    return head, tail


@register.filter
def conversation_url(pk) -> str:
    """``{{ conversation.pk|conversation_url }}`` = ``{% url 'inbox:conversation' conversation.pk %}``:
    reversed once per URL prefix, then one string join per row."""
    head, tail = _conversation_url_pattern(get_script_prefix(), get_urlconf())
    return f"{head}{int(pk)}{tail}"


ROW_DATA = (
    'data-conversation-id="{}" data-contact-id="{}" data-status="{}" data-assignee="{}" data-campaign="{}" '
    'data-site="{}" data-channel="{}" data-priority="{}" data-unread="{}" data-queued-at="{}" '
    'data-last-message-at="{}" data-closed-at="{}" data-awaiting-since="{}"'
)


def _blank(value) -> str | int:
    return "" if value is None else value


@register.filter
def row_data(conversation):
    """A list row's data attributes, the wire values the live client sorts,
    filters and updates rows by (``static/inbox/inbox.js``): one call instead
    of thirteen template variables per row."""
    c = conversation
    values = (
        c.pk, c.contact_id, c.status, _blank(c.assignee_id), _blank(c.campaign_id), _blank(c.site_id),
        c.channel, c.priority, c.unread_agent, iso(c.queued_at), iso(c.last_message_at), iso(c.closed_at),
        iso(c.awaiting_reply_since),
    )
    return mark_safe(ROW_DATA.format(*map(esc, values)))  # format_html's output


MESSAGE_DATA = (
    'data-message-id="{}" data-client-id="{}" data-sender="{}" data-sender-member="{}" data-kind="{}" '
    'data-status="{}" data-created-at="{}"'
)


@register.filter
def json_attr(value) -> str:
    """A value as JSON for a data attribute (escaped by the template)."""
    return json.dumps(value, separators=(",", ":"), default=str)


@register.simple_tag
def sender_name(message) -> str:
    kind = message.sender_type
    if kind == "agent":
        membership = message.sender_membership
        return membership.user.display_name if membership is not None else _("Agent")
    if kind == "contact":
        return message.conversation.contact.display_name
    if kind == "bot":
        return _("Bot")
    return ""


@register.filter
def host(url: str) -> str:
    """``https://shop.example.com/cars/12?x=1`` → ``shop.example.com/cars/12``."""
    text = str(url or "")
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text.split("?")[0].split("#")[0].rstrip("/") or text


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None

