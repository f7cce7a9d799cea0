"""The list's rows and the thread's messages, rendered once and cached.

A row or a message is the same HTML every time its data is the same, and an
inbox re-renders the same 30 rows and 30 messages on every click, reload,
view switch and reconnect. Each fragment is cached under a **fingerprint of
everything it shows**: the fields its template reads (a row's contact,
assignee and campaign name included; a message's sender, status and
attachments), the active language and time zone, and a digest of the
templates and template-tag modules that draw it. Nothing is ever
invalidated: when anything shown changes, the key changes, and the old entry
expires unused (``FRAGMENT_TTL``). A fingerprint cannot go stale the way an
``updated_at`` stamp can (several services update counters and presence with
``QuerySet.update()``, which leaves ``updated_at`` alone).

The fingerprint functions mirror ``conversations.html`` (what the templates
``conversations/live/conversation_row.html`` and ``…/message.html`` draw):
**a field added to either fragment must be added to its fingerprint** (``tests/conversations/test_inbox_fragments.py``
checks each shown field changes the key, and cached and fresh HTML match).

One ``get_many`` per page (a single Redis ``MGET``), one ``set_many`` for the
misses. If the cache is down, fragments are rendered as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.cache import caches
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from ..models import Conversation, Message

log = logging.getLogger(__name__)

ROW_TEMPLATE = "conversations/live/conversation_row.html"
MESSAGE_TEMPLATE = "conversations/live/message.html"
FRAGMENT_TTL = 60 * 60  # seconds: an agent's working session; entries are never invalidated, only outgrown
CACHE_ALIAS = "default"
KEY_PREFIX = "inbox:frag:v1"


def enabled() -> bool:
    """``settings.INBOX_FRAGMENT_CACHE = False`` renders every fragment (the bench's cold runs)."""
    return getattr(settings, "INBOX_FRAGMENT_CACHE", True)


# --- What each fragment shows ------------------------------------------------------------


def _user_bits(user) -> tuple[str, str]:
    return (user.name, user.email) if user is not None else ("", "")


def _contact_bits(contact) -> tuple:
    return (contact.pk, contact.name, contact.email, contact.phone, contact.is_online)


def row_fingerprint(conversation: Conversation, active_id: int | None = None) -> tuple:
    """Every value ``live/conversation_row.html`` reads (choice labels follow
    from the value and the language)."""
    c = conversation
    assignee = c.assignee if c.assignee_id else None
    return (
        c.pk, c.contact_id, c.status, c.assignee_id, c.campaign_id, c.site_id, c.channel, c.priority,
        c.unread_agent, c.queued_at, c.last_message_at, c.closed_at, c.awaiting_reply_since,
        c.last_message_preview,
        _contact_bits(c.contact),
        c.campaign.name if c.campaign_id else None,
        _user_bits(assignee.user) if assignee is not None else None,
        bool(active_id) and c.pk == active_id,
    )


def message_fingerprint(message: Message) -> tuple:
    """Every value ``live/message.html`` reads, the sender's name included."""
    m = message
    sender = None
    if m.sender_type == Message.Sender.AGENT:
        membership = m.sender_membership if m.sender_membership_id else None
        sender = _user_bits(membership.user) if membership is not None else None
    elif m.sender_type == Message.Sender.CONTACT:
        sender = _contact_bits(m.conversation.contact)
    return (
        m.pk, m.kind, m.sender_type, m.sender_membership_id, m.status, m.client_id, m.created_at, m.content,
        json.dumps(m.payload, sort_keys=True, default=str) if m.payload else "",
        m.conversation.contact_id,
        sender,
        tuple(
            (a.pk, a.name, a.size, a.content_type, a.file.name, a.thumbnail.name)
            for a in m.attachments.all()
        ),
    )


# --- Keys --------------------------------------------------------------------------------


def _source_digest() -> str:
    """The templates, the code that draws them (``conversations.html``, the
    template tags) and the translation catalogs:
    a deploy that changes how a fragment looks starts a fresh set of keys."""
    from accounts.templatetags import charla_ui

    from .. import html
    from ..templatetags import inbox

    digest = hashlib.blake2b(digest_size=8)
    digest.update(django.get_version().encode())
    for name in (ROW_TEMPLATE, MESSAGE_TEMPLATE):
        digest.update(get_template(name).template.source.encode())
    for module in (html, inbox, charla_ui):
        digest.update(Path(module.__file__).read_bytes())
    for folder in settings.LOCALE_PATHS:
        for catalog in sorted(Path(folder).glob("*/LC_MESSAGES/*.mo")):
            stat = catalog.stat()
            digest.update(f"{catalog}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


_cached_source_digest = lru_cache(maxsize=1)(_source_digest)


def source_digest() -> str:
    # Under DEBUG a template edit must show at once (the dev server keeps the process).
    return _source_digest() if settings.DEBUG else _cached_source_digest()


def _key(kind: str, scope: str, fingerprint: tuple) -> str:
    return f"{KEY_PREFIX}:{kind}:" + hashlib.blake2b(repr((scope, fingerprint)).encode(), digest_size=16).hexdigest()


def _scope() -> str:
    """What is not in a fingerprint but changes the HTML: language, time zone,
    URL prefix and the templates' source."""
    return f"{translation.get_language()}|{timezone.get_current_timezone_name()}|{get_script_prefix()}|{source_digest()}"


# --- Rendering ---------------------------------------------------------------------------


def _render_many(
    kind: str,
    template_name: str,
    items: Sequence[Any],
    *,
    fingerprint: Callable[[Any], tuple],
    context: Callable[[Any], dict[str, Any]],
) -> list[SafeString]:
    if not items:
        return []
    template = get_template(template_name)

    def render(item) -> SafeString:
        return mark_safe(template.render(context(item)))  # noqa: S308 - our own autoescaped template

    if not enabled():
        return [render(item) for item in items]
    scope = _scope()
    keys = [_key(kind, scope, fingerprint(item)) for item in items]
    cache = caches[CACHE_ALIAS]
    try:
        found = cache.get_many(keys)
    except Exception:  # noqa: BLE001 - a cache outage costs speed, never the page
        log.warning("inbox fragment cache unavailable; rendering without it", exc_info=True)
        return [render(item) for item in items]
    html, missing = [], {}
    for key, item in zip(keys, items, strict=True):
        text = found.get(key)
        if text is None:
            text = missing.get(key) or render(item)
            missing[key] = str(text)
        html.append(mark_safe(text))  # noqa: S308 - rendered by the template above
    if missing:
        try:
            cache.set_many(missing, timeout=FRAGMENT_TTL)
        except Exception:  # noqa: BLE001
            log.warning("inbox fragment cache unavailable; fragments not stored", exc_info=True)
    return html


def render_rows(rows: Iterable[Conversation], *, active_id: int | None = None) -> list[SafeString]:
    """``live/conversation_row.html`` for each row, from the cache when nothing shown changed."""
    return _render_many(
        "row",
        ROW_TEMPLATE,
        list(rows),
        fingerprint=lambda c: row_fingerprint(c, active_id),
        context=lambda c: {"conversation": c, "active_id": active_id},
    )


def render_messages(messages: Iterable[Message]) -> list[SafeString]:
    """``live/message.html`` for each message, from the cache when nothing shown changed."""
    return _render_many(
        "msg",
        MESSAGE_TEMPLATE,
        list(messages),
        fingerprint=message_fingerprint,
        context=lambda m: {"message": m},
    )
