"""Helpers shared by the inbox views: the member and viewer of the request,
page-or-fragment rendering, and turning domain errors into clear answers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from accounts.models import Membership
from core.exceptions import CharlaError, NotFound, PermissionDenied, RateLimited, ValidationError

from ..selectors import Viewer, viewer_for

ERROR_STATUS = {NotFound: 404, PermissionDenied: 403, ValidationError: 400, RateLimited: 429}
ERROR_TEMPLATE = "conversations/inbox/_error.html"


def member(request: HttpRequest) -> Membership:
    """The request's membership as a plain model instance (``member_required`` ran)."""
    lazy = request.membership  # type: ignore[attr-defined]
    lazy.pk  # noqa: B018 - force the lazy lookup
    return getattr(lazy, "_wrapped", lazy)


def viewer(request: HttpRequest) -> Viewer:
    """What this member may see, computed once per request."""
    cached = getattr(request, "_inbox_viewer", None)
    if cached is None:
        cached = viewer_for(member(request))
        request._inbox_viewer = cached  # type: ignore[attr-defined]
    return cached


def is_fragment(request: HttpRequest) -> bool:
    """An htmx swap wants a fragment; a history restore (back button after the
    cache was dropped) wants the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def hx_target(request: HttpRequest) -> str:
    return (request.htmx.target or "") if is_fragment(request) else ""


def error_status(exc: CharlaError) -> int:
    for cls, status in ERROR_STATUS.items():
        if isinstance(exc, cls):
            return status
    return 400


def error_fragment(request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
    """An htmx error: a toast swapped into the page's toast slot, nothing else changes."""
    response = TemplateResponse(request, ERROR_TEMPLATE, {"error": message}, status=status)
    response["HX-Retarget"] = "#inbox-toasts"
    response["HX-Reswap"] = "beforeend"
    return response


def safe_next(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def done(request: HttpRequest, *, next_url: str, message: str = "") -> HttpResponse:
    """After a successful POST without htmx: flash and go back (post/redirect/get)."""
    if message:
        messages.success(request, message)
    return redirect(next_url)


def not_found_message() -> str:
    return _("This conversation does not exist or is no longer yours to see.")


def config_strings() -> dict[str, Any]:
    """Words the live client writes into the page, in the member's language."""
    return {
        "today": _("Today"),
        "yesterday": _("Yesterday"),
        "you": _("You"),
        "visitor": _("Visitor"),
        "bot": _("Bot"),
        "note": _("Private note"),
        "auto_message": _("Automatic message"),
        "sending": _("Sending…"),
        "failed": _("Not sent"),
        "retry": _("Retry"),
        "is_typing": _("%(name)s is typing…"),
        "is_replying": _("%(name)s is replying"),
        "new_conversation": _("New conversation in the queue"),
        "new_message": _("New message from %(name)s"),
        "moved": _("This conversation was moved: it is no longer in your inbox."),
        "closed_elsewhere": _("This conversation was closed."),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "offline": _("You are offline. Messages will be sent over HTTP."),
        "connected": _("Connected"),
        "upload_failed": _("The file could not be uploaded."),
        "uploading": _("Uploading…"),
        "empty_message": _("Write a message first."),
        "now": _("now"),
        "minutes_short": _("%(n)sm"),
        "hours_short": _("%(n)sh"),
        "days_short": _("%(n)sd"),
        "waiting": _("waiting %(time)s"),
        "notifications_on": _("Notifications are on."),
        "notifications_blocked": _("Notifications are blocked in this browser's settings."),
        "sound_on": _("Sound on"),
        "sound_off": _("Sound off"),
        "no_canned": _("No saved reply matches."),
        "sla_warning": _("A customer has been waiting too long."),
        "sla_breached": _("Reply time exceeded."),
        "online": _("Online"),
        "away": _("Away"),
        "offline_status": _("Offline"),
        "priority_2": _("High"),
        "priority_3": _("Urgent"),
        "status_snoozed": _("Snoozed"),
        "status_bot": _("With bot"),
    }


def row_kit() -> dict[str, Any]:
    """What the live client needs to draw a list row from a conversation's
    data (``static/inbox/inbox.js``, ``renderRow``) as ``conversations.html``
    draws it: the icons, the avatar colours, the channels' names."""
    from accounts.templatetags.charla_ui import AVATAR_COLOURS

    from ..models import Conversation
    from ..templatetags.inbox import CHANNEL_ICONS, _icon

    icons = {name: str(_icon(name, "icon--xs", "")) for name in ("moon", "bot", "clock", "message", *CHANNEL_ICONS.values())}
    return {
        "icons": icons,
        "channelIcons": CHANNEL_ICONS,
        "channels": {value: str(label) for value, label in Conversation.Channel.choices},
        "colours": AVATAR_COLOURS,
    }
