"""Shared UI tags: ``{% icon %}``, ``{% avatar %}``, ``{% user_memberships %}``.

Load with ``{% load charla_ui %}``. Icons are our own 24×24 stroke drawings,
inlined so they inherit ``currentColor``.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

ICONS = {
    "inbox": '<path d="M3 13h5l1.5 2.5h5L16 13h5"/><path d="M5.2 5h13.6L21 13v5a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-5z"/>',
    "users": '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20c.6-3.5 3.3-5.5 6.5-5.5s5.9 2 6.5 5.5"/>'
    '<path d="M15.5 4.8a3.5 3.5 0 0 1 0 6.4"/><path d="M18 14.8c2 .7 3.2 2.5 3.5 5.2"/>',
    "globe": '<circle cx="12" cy="12" r="9"/><path d="M3 12h18"/>'
    '<path d="M12 3c2.5 2.7 3.8 5.7 3.8 9s-1.3 6.3-3.8 9c-2.5-2.7-3.8-5.7-3.8-9S9.5 5.7 12 3z"/>',
    "user": '<circle cx="12" cy="8" r="4"/><path d="M4 21c.8-4 4-6.5 8-6.5s7.2 2.5 8 6.5"/>',
    "sliders": '<path d="M4 6h10M18 6h2M4 12h4M12 12h8M4 18h12"/><circle cx="16" cy="6" r="2"/>'
    '<circle cx="10" cy="12" r="2"/><circle cx="18" cy="18" r="2"/>',
    "chevron-down": '<path d="m6 9 6 6 6-6"/>',
    "chevron-right": '<path d="m9 6 6 6-6 6"/>',
    "chevrons": '<path d="m8 9 4-4 4 4M8 15l4 4 4-4"/>',
    "menu": '<path d="M4 6h16M4 12h16M4 18h16"/>',
    "check": '<path d="m5 12.5 4.5 4.5L19 7"/>',
    "x": '<path d="M6 6l12 12M18 6 6 18"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "log-out": '<path d="M9 20H6a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2h3"/><path d="m16 16 4-4-4-4"/><path d="M20 12H10"/>',
    "mail": '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="m4 7 8 6 8-6"/>',
    "lock": '<rect x="4.5" y="10.5" width="15" height="10" rx="2"/><path d="M8 10.5v-3a4 4 0 0 1 8 0v3"/>',
    "alert": '<circle cx="12" cy="12" r="9"/><path d="M12 7.5v5.5M12 16.5v.01"/>',
    "trash": '<path d="M4 7h16M9 7V4.5h6V7M6 7l1 13h10l1-13"/>',
    "refresh": '<path d="M20 11a8 8 0 0 0-14.5-4.5L4 8"/><path d="M4 4v4h4"/>'
    '<path d="M4 13a8 8 0 0 0 14.5 4.5L20 16"/><path d="M20 20v-4h-4"/>',
    "clock": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
    "shield": '<path d="M12 3 5 6v5c0 4.5 3 8.3 7 10 4-1.7 7-5.5 7-10V6z"/><path d="m9 12 2 2 4-4"/>',
    "building": '<rect x="5" y="3" width="14" height="18" rx="1.5"/>'
    '<path d="M9 7h.01M12 7h.01M15 7h.01M9 11h.01M12 11h.01M15 11h.01M10 21v-4h4v4"/>',
    "languages": '<path d="M4 5h8M8 3v2M10 5c-.5 3.5-2.7 6.5-6 8"/><path d="M6 9c1 2 2.7 3.5 5 4.3"/>'
    '<path d="m12 21 4.5-10 4.5 10M13.5 18h6"/>',
    "eye": '<path d="M2.5 12S6 5.5 12 5.5 21.5 12 21.5 12 18 18.5 12 18.5 2.5 12 2.5 12z"/><circle cx="12" cy="12" r="3"/>',
    "copy": '<rect x="8" y="8" width="12" height="12" rx="2"/><path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2"/>',
    "code": '<path d="m8 8-4 4 4 4M16 8l4 4-4 4"/>',
    "message": '<path d="M5 5h14a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2h-8l-5 3.5V18H5a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z"/>',
    "arrow-left": '<path d="M19 12H5M11 6l-6 6 6 6"/>',
    "send": '<path d="m4 12 16-8-6 16-2.5-6.5z"/>',
    "key": '<circle cx="8" cy="15" r="4"/><path d="m11 12 9-9M17 6l3 3M15 8l2 2"/>',
    "palette": '<path d="M12 3a9 9 0 1 0 0 18c1.2 0 2-.8 2-1.8 0-1.3-1-1.7-1-2.7 0-1 .8-1.5 1.8-1.5H17a4 4 0 0 0 4-4C21 6.5 17 3 12 3z"/>'
    '<circle cx="7.5" cy="11" r="1"/><circle cx="10.5" cy="7" r="1"/><circle cx="15" cy="7.5" r="1"/>',
    "calendar": '<rect x="3.5" y="5" width="17" height="15.5" rx="2"/><path d="M3.5 10h17M8 3v4M16 3v4"/>',
}

AVATAR_COLOURS = ["#4F46E5", "#0EA5E9", "#10B981", "#F59E0B", "#EF4444", "#8B5CF6", "#EC4899", "#14B8A6", "#F97316"]


@register.simple_tag
def icon(name: str, css: str = "", label: str = ""):
    """``{% icon "inbox" "icon--sm" %}`` → an inline SVG (decorative unless ``label``)."""
    body = ICONS.get(name, ICONS["alert"])
    aria = format_html('role="img" aria-label="{}"', label) if label else mark_safe('aria-hidden="true"')
    return format_html(
        '<svg class="icon {}" viewBox="0 0 24 24" {} focusable="false">{}</svg>', css, aria, mark_safe(body)
    )


def avatar_colour(seed) -> str:
    text = str(seed or "")
    return AVATAR_COLOURS[sum(ord(c) for c in text) % len(AVATAR_COLOURS)]


@register.inclusion_tag("accounts/_avatar.html")
def avatar(user, size: str = "", status: str = ""):
    """``{% avatar user "sm" "online" %}``: photo, or initials on a stable colour."""
    url = ""
    if getattr(user, "avatar", None):
        try:
            url = user.avatar.url
        except ValueError:
            url = ""
    return {
        "user": user,
        "url": url,
        "size": size,
        "status": status,
        "colour": avatar_colour(getattr(user, "email", "") or getattr(user, "pk", "")),
        "initials": getattr(user, "initials", "?"),
    }


@register.simple_tag(takes_context=True)
def user_memberships(context):
    """``{% user_memberships as memberships %}``: the accounts the user can switch to."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    from accounts.selectors import user_membership_list

    return list(user_membership_list(user=user))


@register.filter
def initial_letter(value) -> str:
    return (str(value or "?").strip()[:1] or "?").upper()


@register.filter
def colour_for(value) -> str:
    return avatar_colour(value)
