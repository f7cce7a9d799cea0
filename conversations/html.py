"""The inbox's two live fragments — a conversation's list row and a message
bubble — rendered in Python.

The inbox pages render them through ``{% conversation_row %}`` and
``{% message_bubble %}`` (the templates ``conversations/live/*.html`` hold
only that tag); live, a conversation change renders the row for the agents'
frames (``conversations.events``; the inbox draws rows of messages itself,
``static/inbox/inbox.js``), and an agent socket that shows a thread draws a
new message's bubble from the frame's data (``Shown.of_data``), so live
updates and page loads show the same markup. In Django's template language
the two took 14 % of a message's server CPU on the real-time bench; here
they are plain string building (docs/decisions.md, "The live fragments are
rendered in Python", "The bubble drawn where the thread shows").

Everything shown is escaped (``esc``: ``conditional_escape``'s result) unless it is already
safe markup (icons, ``row_data``, ``MESSAGE_DATA`` of escaped values); text filters are
Django's own (``urlize``, ``linebreaksbr``, ``floatformat``,
``filesizeformat``); times are shown in the current time zone as the
templates showed them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.template.defaultfilters import filesizeformat, floatformat, linebreaksbr, urlize
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _

from .templatetags.inbox import (
    MESSAGE_DATA,
    _blank,
    _icon,
    channel_icon,
    colour,
    conversation_url,
    esc,
    hm,
    initials,
    iso,
    label,
    row_data,
    sender_name,
)


def _hm(value: Any) -> str:
    return hm(template_localtime(value)) if value else ""


# --- A conversation's row in the list ------------------------------------------------

def conversation_row(conversation: Any, active_id: Any = None) -> SafeString:
    c = conversation
    contact = c.contact
    assignee = c.assignee
    url = esc(conversation_url(c.pk))
    contact_id = esc(contact.pk)
    name = contact.display_name
    current = ' aria-current="true"' if active_id and c.pk == active_id else ""
    parts = [
        f'<a class="conv-row{" is-unread" if c.unread_agent else ""}" id="conv-row-{esc(c.pk)}" href="{url}" '
        f'hx-get="{url}" {row_data(c)}{current}>\n'
        f'  <span class="conv-row__avatar avatar" style="--avatar-bg: {esc(colour(contact.pk))}">'
        f'{esc(initials(name) or "#")}<span class="presence-dot" data-contact-online="{contact_id}" '
        f'data-online="{"true" if contact.is_online else "false"}"></span></span>\n'
        '  <span class="conv-row__body">\n'
        '    <span class="conv-row__top">\n'
        f'      <span class="conv-row__name">{esc(name)}</span>\n'
        f'      <time class="conv-row__time" datetime="{iso(c.last_message_at)}" data-relative>'
        f'{_hm(c.last_message_at)}</time>\n'
        '    </span>\n'
        f'    <span class="conv-row__preview" data-preview>{esc(c.last_message_preview or "…")}</span>\n'
        '    <span class="conv-row__meta">\n'
        f'      <span class="conv-row__channel" title="{esc(label(c, "channel"))}">'
        f'{_icon(channel_icon(c.channel), "icon--xs", "")}</span>\n      ',
    ]
    if c.priority >= 2:
        priority = esc(c.priority)
        parts.append(
            f'<span class="pill pill--priority-{priority}" data-i18n="priority_{priority}">'
            f'{esc(label(c, "priority"))}</span>'
        )
    parts.append("\n      ")
    if c.status == "snoozed":
        parts.append(
            f'<span class="pill pill--snoozed">{_icon("moon", "icon--xs", "")}<span data-i18n="status_snoozed">'
            f'{esc(label(c, "status"))}</span></span>'
        )
    elif c.status == "bot":
        parts.append(
            f'<span class="pill">{_icon("bot", "icon--xs", "")}<span data-i18n="status_bot">'
            f'{esc(label(c, "status"))}</span></span>'
        )
    parts.append("\n      ")
    if c.campaign_id:
        parts.append(f'<span class="pill pill--campaign truncate">{esc(c.campaign.name)}</span>')
    parts.append(
        "\n"
        f'      <span class="conv-row__sla" data-sla hidden>{_icon("clock", "icon--xs", "")}'
        '<span data-sla-text></span></span>\n'
        '      <span class="conv-row__spacer"></span>\n      '
    )
    if assignee:
        user = assignee.user
        shown = esc(user.display_name)
        parts.append(
            f'<span class="conv-row__assignee" title="{shown}" data-assignee-name="{shown}">'
            f'<span class="avatar avatar--xxs" style="--avatar-bg: {esc(colour(user.email))}">'
            f'{esc(initials(user.display_name))}</span></span>'
        )
    parts.append(
        "\n"
        f'      <span class="conv-row__unread" data-unread-badge{"" if c.unread_agent else " hidden"}>'
        f'{esc(c.unread_agent)}</span>\n'
        '    </span>\n'
        '  </span>\n'
        '</a>\n'
    )
    return mark_safe("".join(parts))


# --- A message in a thread -----------------------------------------------------------

class Shown:
    """What a message bubble draws, read off a ``Message`` (:meth:`of`: the
    inbox's pages) or off its wire shape (:meth:`of_data`,
    ``conversations.events.message_data``: an agent socket that shows the
    thread draws the bubble of a live message from the frame, so the sender
    renders nothing for the sockets that do not). Both give the same
    markup (``tests/conversations/test_inbox_fragments.py``)."""

    __slots__ = ("pk", "client_id", "sender", "member_id", "kind", "status", "created_at", "content", "payload",
                 "name", "colour", "attachments")

    @classmethod
    def of(cls, m: Any) -> Shown:
        shown = cls()
        shown.pk, shown.client_id, shown.sender, shown.member_id = m.pk, m.client_id, m.sender_type, m.sender_membership_id
        shown.kind, shown.status, shown.created_at, shown.content = m.kind, m.status, m.created_at, m.content
        shown.payload = m.payload if isinstance(m.payload, dict) else {}
        shown.name = sender_name(m)
        if m.sender_type == "agent":
            membership = m.sender_membership
            shown.colour = colour(membership.user.email if membership is not None else "")
        elif m.sender_type == "contact":
            shown.colour = colour(m.conversation.contact_id)
        else:
            shown.colour = ""
        shown.attachments = [
            (a.file.url, a.name, a.is_image, a.thumbnail.url if a.thumbnail else None, a.size) for a in m.attachments.all()
        ]
        return shown

    @classmethod
    def of_data(cls, d: dict[str, Any]) -> Shown:
        shown = cls()
        sender = d["sender"]
        shown.pk, shown.client_id, shown.sender = d["id"], d["client_id"] or "", sender["type"]
        shown.member_id = sender["id"] if shown.sender == "agent" else None
        shown.kind, shown.status, shown.content = d["kind"], d["status"], d["content"]
        shown.created_at = datetime.fromisoformat(d["created_at"])
        shown.payload = d["payload"] if isinstance(d["payload"], dict) else {}
        if shown.sender == "agent":
            shown.name = sender["name"] if shown.member_id is not None else _("Agent")
            shown.colour = sender.get("colour") or colour("")
        elif shown.sender == "contact":
            shown.name, shown.colour = sender["name"], colour(sender["id"])
        else:
            shown.name, shown.colour = _("Bot") if shown.sender == "bot" else "", ""
        shown.attachments = [
            (a["url"], a["name"], str(a["content_type"]).startswith("image/"), a["thumbnail_url"], a["size"])
            for a in d["attachments"]
        ]
        return shown


def message_bubble(message: Any) -> SafeString:
    """A message of the thread (the inbox's pages, the agents' replays)."""
    return bubble(Shown.of(message))


def message_bubble_of_data(data: dict[str, Any]) -> SafeString:
    """The same bubble from the message's wire shape (a live frame)."""
    return bubble(Shown.of_data(data))


def bubble(m: Shown) -> SafeString:
    payload = m.payload
    if m.kind == "system" and payload.get("event") != "closing":
        created = iso(m.created_at)
        lock = _icon("lock", "icon--xs", "") if payload.get("internal") else ""
        return mark_safe(
            f'<div class="msg msg--system" id="msg-{esc(m.pk)}" data-message-id="{esc(m.pk)}" data-sender="system" '
            f'data-kind="system" data-created-at="{created}"><div class="msg-system">{lock}'
            f'<span class="msg-system__text">{esc(m.content)}</span><time class="msg-system__time" '
            f'datetime="{created}" data-time>{_hm(m.created_at)}</time></div></div>\n'
        )
    sender = m.sender
    name = m.name
    note = m.kind == "note"
    modifier = " msg--note" if note else (" msg--auto" if sender == "system" else "")
    data = MESSAGE_DATA.format(*map(esc, (m.pk, m.client_id, sender, _blank(m.member_id), m.kind, m.status,
                                          iso(m.created_at))))
    parts = [f'<div class="msg msg--{esc(sender)}{modifier}" id="msg-{esc(m.pk)}" {data}>\n  ']
    if sender in ("bot", "system"):
        icon = _icon("bot" if sender == "bot" else "zap", "icon--sm", "")
        parts.append(f'<span class="msg__avatar avatar avatar--sm avatar--bot">{icon}</span>')
    elif sender == "agent":
        parts.append(
            f'<span class="msg__avatar avatar avatar--sm" style="--avatar-bg: {esc(m.colour)}">'
            f'{esc(initials(name))}</span>'
        )
    else:
        parts.append(
            f'<span class="msg__avatar avatar avatar--sm" style="--avatar-bg: '
            f'{esc(m.colour)}">{esc(initials(name) or "#")}</span>'
        )
    author = f'<span data-i18n="auto_message">{esc(_("Automatic message"))}</span>' if sender == "system" else esc(name)
    parts.append(
        '\n  <div class="msg__main">\n'
        f'    <div class="msg__meta"><span class="msg__author">{author}</span>'
    )
    if note:
        parts.append(
            f'<span class="msg__note-label">{_icon("lock", "icon--xs", "")}'
            f'<span data-i18n="note">{esc(_("Private note"))}</span></span>'
        )
    parts.append(
        f'<time class="msg__time" datetime="{iso(m.created_at)}" data-time>{_hm(m.created_at)}</time></div>\n'
        '    <div class="msg__bubble">\n      '
    )
    if m.content:
        parts.append(f'<div class="msg__text">{linebreaksbr(urlize(m.content, autoescape=True), autoescape=True)}</div>')
    parts.append("\n      ")
    if m.kind == "card" and payload.get("title"):
        parts.append(_card(payload))
    parts.append("\n      ")
    if m.kind == "location":
        parts.append(_location(payload))
    parts.append("\n      ")
    if m.attachments:
        parts.append('<div class="msg__attachments">')
        parts += [_attachment(*a) for a in m.attachments]
        parts.append("</div>")
    parts.append("\n    </div>\n    ")
    options = payload.get("options")
    if m.kind == "quick_replies" and options:
        chips = "".join(f'<span class="chip">{esc(_item(option, "label"))}</span>' for option in options)
        parts.append(f'<div class="msg__options">{chips}</div>')
    parts.append("\n    ")
    if (sender == "agent" and not note) or sender in ("bot", "system"):
        parts.append(
            f'<span class="msg__ticks" data-ticks data-status="{esc(m.status)}">{_icon("ticks", "icon--xs", "")}</span>'
        )
    parts.append("\n  </div>\n</div>\n")
    return mark_safe("".join(parts))


def _item(mapping: Any, key: str) -> Any:
    """``{{ mapping.key }}``: the value, or "" when there is none."""
    try:
        return mapping[key]
    except (KeyError, TypeError, IndexError):
        return ""


def _card(payload: dict) -> str:
    image = payload.get("image_url")
    price = payload.get("price")
    return (
        f'<a class="msg-card" href="{esc(payload.get("url") or "#")}" target="_blank" rel="noopener noreferrer">'
        + (f'<img class="msg-card__image" src="{esc(image)}" alt="" loading="lazy">' if image else "")
        + f'<span class="msg-card__body"><span class="msg-card__title">{esc(payload["title"])}</span>'
        + (f'<span class="msg-card__price">{esc(price)}</span>' if price else "")
        + "</span></a>"
    )


def _location(payload: dict) -> str:
    lat, lng = esc(_item(payload, "lat")), esc(_item(payload, "lng"))
    return (
        f'<a class="msg-location" href="https://www.openstreetmap.org/?mlat={lat}&amp;mlon={lng}#map=16/{lat}/{lng}" '
        f'target="_blank" rel="noopener noreferrer">{_icon("map-pin", "icon--sm", "")}'
        f'{esc(payload.get("name") or "")} {esc(floatformat(_item(payload, "lat"), 5))}, '
        f'{esc(floatformat(_item(payload, "lng"), 5))}</a>'
    )


def _attachment(url: str | None, name: str, is_image: bool, thumbnail: str | None, size: int) -> str:
    url, name = esc(url), esc(name)
    if is_image:
        src = esc(thumbnail) if thumbnail else url
        return (
            f'<a class="attachment attachment--image" href="{url}" target="_blank" rel="noopener">'
            f'<img src="{src}" alt="{name}" loading="lazy"></a>'
        )
    return (
        f'<a class="attachment attachment--file" href="{url}" target="_blank" rel="noopener" download="{name}">'
        f'<span class="attachment__icon">{_icon("file", "icon--sm", "")}</span><span class="attachment__text">'
        f'<span class="attachment__name">{name}</span>'
        f'<span class="attachment__size">{esc(filesizeformat(size))}</span></span></a>'
    )
