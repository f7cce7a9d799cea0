"""Who is on the other end of a socket, and may they connect from there.

Used by the consumers' ``connect()`` (and the origin helpers by the widget
HTTP API too). Two rules from ARCHITECTURE §5:

- the inbox socket (``/ws/agent/``) accepts browser origins in
  ``ALLOWED_HOSTS`` only; a client that sends no ``Origin`` (not a browser)
  must bring a JWT, because a cookie alone is what cross-site WebSocket
  hijacking abuses;
- the widget (socket and session endpoint) accepts the site's allowed
  domains, and Charla's own origin, since the chat window is an iframe
  served by Charla itself.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.http.cookie import parse_cookie
from django.http.request import validate_host

from core.tenancy import SESSION_KEY, membership_for

#: Close codes (also in docs/protocol.md). 4401: authenticate again (a fresh
#: visitor session or login); 4403: never retry from this origin.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403


def query_param(scope: dict[str, Any], name: str) -> str | None:
    """One query-string value (the first), or None."""
    raw = scope.get("query_string", b"")
    try:
        values = parse_qs(raw.decode("latin1"), keep_blank_values=False).get(name)
    except (UnicodeDecodeError, ValueError):
        return None
    return values[0] if values else None


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            try:
                return value.decode("latin1")
            except UnicodeDecodeError:
                return None
    return None


def origin_host(origin: str | None) -> str | None:
    """Lower-case host of an ``Origin`` value; ``""`` when it is unparseable
    (``null`` from sandboxed frames, garbage), None when there was none."""
    if origin is None:
        return None
    try:
        return (urlsplit(origin.strip()).hostname or "").lower()
    except ValueError:
        return ""


def scope_origin_host(scope: dict[str, Any]) -> str | None:
    return origin_host(header(scope, b"origin"))


def is_own_host(host: str) -> bool:
    """Charla's own pages (the inbox, the widget iframe)."""
    if not host:
        return False
    public = (urlsplit(settings.PUBLIC_URL).hostname or "").lower()
    return host == public or validate_host(host, settings.ALLOWED_HOSTS)


def widget_origin_allowed(site: Any, host: str | None) -> bool:
    """A widget request's origin: the site's domains or Charla's own."""
    if site is None or not host:
        return False
    return is_own_host(host) or site.allows_origin_host(host)


def agent_authenticate(scope: dict[str, Any], *, token: str | None, account_slug: str | None):
    """The membership an inbox socket acts as, or None.

    ``token`` (a simplejwt access token) wins over the session cookie. The
    account is ``account_slug`` when given, else the session's chosen
    account, else the user's first membership. Runs in a worker thread.
    """
    if token:
        from rest_framework.exceptions import AuthenticationFailed
        from rest_framework_simplejwt.authentication import JWTAuthentication
        from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

        auth = JWTAuthentication()
        try:
            user = auth.get_user(auth.get_validated_token(token.encode("latin1", "ignore")))
        except (InvalidToken, TokenError, AuthenticationFailed):
            return None
        session_account_id = None
    else:
        user, session = session_user(scope)
        session_account_id = session.get(SESSION_KEY) if session is not None else None
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if account_slug:
        return membership_for(user, account_slug=account_slug[:60])
    return membership_for(user, account_id=session_account_id)


def session_user(scope: dict[str, Any]) -> tuple[Any, Any]:
    """The user and session of the handshake's session cookie, read once at
    connect (``(None, None)`` without one). Runs in a worker thread.

    In place of Channels' ``AuthMiddlewareStack``, whose session wrapper sat
    on every frame the socket sends, to save a session a socket never
    changes (docs/decisions.md)."""
    from django.contrib.auth import get_user

    raw = header(scope, b"cookie")
    if not raw:
        return None, None
    session_key = parse_cookie(raw).get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None, None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=session)), session
