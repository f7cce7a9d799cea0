"""The website widget's own pages (ARCHITECTURE §6).

``GET /widget.js``            the loader: tiny, cacheable, with this server's
                              origin baked in so it knows where the chat
                              iframe and the API live.
``GET /widget/frame/``        the chat window, an iframe page served from our
                              origin (host-page CSS and scripts cannot reach
                              it); only the site's allowed domains may frame it.
``GET /widget/config/``       the public look of a site (colours, team name,
                              online state) so the loader paints the launcher
                              in the right colour before the iframe exists.

The widget's HTTP API (session, messages, uploads…) lives under
``/api/widget/v1/`` (``conversations.api``); the socket at ``/ws/widget/``.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_safe

from accounts.models import Site

LOADER_PATH = Path(settings.BASE_DIR) / "static" / "widget" / "loader.js"
ORIGIN_PLACEHOLDER = "__CHARLA_ORIGIN__"
LOADER_MAX_AGE = 300  # short: a new loader reaches every site within minutes
LOCALES = ("en", "es")


# --- helpers ---------------------------------------------------------------------


def charla_origin(request: HttpRequest) -> str:
    """Scheme://host[:port] browsers should use to reach this server.

    ``PUBLIC_URL`` when the request came in on its host (its scheme is the
    truth behind a TLS-terminating proxy); otherwise the request's own origin,
    so a developer reaching the server by another name still gets a working
    loader.
    """
    public = urlsplit(settings.PUBLIC_URL)
    host = request.get_host()
    if public.netloc and public.netloc.lower() == host.lower():
        return f"{public.scheme}://{public.netloc}"
    return f"{request.scheme}://{host}"


@lru_cache(maxsize=16)
def _loader_bytes(origin: str, mtime_ns: int) -> tuple[bytes, bytes, str]:
    source = LOADER_PATH.read_text(encoding="utf-8")
    body = source.replace(ORIGIN_PLACEHOLDER, origin.replace("\\", "").replace('"', "")).encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return body, gzip.compress(body, compresslevel=9, mtime=0), etag


def _site_or_404(app_id: str | None) -> Site:
    app_id = (app_id or "").strip()
    if not app_id or len(app_id) > 32:
        raise Http404("Unknown app_id")
    try:
        return Site.objects.select_related("account").get(app_id=app_id)
    except Site.DoesNotExist:
        raise Http404("Unknown app_id") from None


def _widget_locale(site: Site) -> str:
    for candidate in (site.locale,):
        short = (candidate or "").split("-")[0].lower()
        if short in LOCALES:
            return short
    return ""


def site_public_data(site: Site, request: HttpRequest) -> dict[str, Any]:
    """What anyone may know about a site's widget (no secrets, no contacts)."""
    return {
        "app_id": site.app_id,
        "name": site.name,
        "team_name": site.team_name or site.account.name,
        "online": site.is_open_at(timezone.now()),
        "greeting": site.greeting,
        "offline_message": site.offline_message,
        "reply_time_text": site.reply_time_text,
        "colors": {"primary": site.color_primary or "#4F46E5", "text": site.color_text or "#FFFFFF"},
        "logo_url": request.build_absolute_uri(site.logo.url) if site.logo else None,
        "locale": _widget_locale(site),
        "require_identity": site.require_identity,
    }


def _source_list(domains: list[str]) -> list[str]:
    """CSP sources for a site's allowed domains, any scheme and port."""
    sources = []
    for raw in domains:
        domain = (raw or "").strip().lower()
        if not domain or any(c in domain for c in " ;,'\"/\\"):
            continue
        for scheme in ("https", "http"):
            sources += [f"{scheme}://{domain}", f"{scheme}://{domain}:*"]
    return sources


# --- views ------------------------------------------------------------------------


@require_safe
def loader_js(request: HttpRequest) -> HttpResponse:
    """The loader script, with ETag / short max-age, gzip when accepted, and
    ``Access-Control-Allow-Origin: *`` (it is public and holds no data)."""
    origin = charla_origin(request)
    body, gzipped, etag = _loader_bytes(origin, LOADER_PATH.stat().st_mtime_ns)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={LOADER_MAX_AGE}, stale-while-revalidate=3600",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    else:
        use_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
        response = HttpResponse(gzipped if use_gzip else body, content_type="application/javascript; charset=utf-8")
        if use_gzip:
            response["Content-Encoding"] = "gzip"
        response["Content-Length"] = str(len(response.content))
    for key, value in headers.items():
        response[key] = value
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


@require_safe
def site_config(request: HttpRequest) -> JsonResponse:
    """Public look of a site for the loader (colours before the iframe exists)."""
    try:
        site = _site_or_404(request.GET.get("app_id"))
    except Http404:
        response = JsonResponse(
            {"error": "not_found", "detail": "Unknown app_id: this chat is not configured."}, status=404
        )
    else:
        response = JsonResponse(site_public_data(site, request))
        response["Cache-Control"] = "public, max-age=60"
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@xframe_options_exempt
@require_safe
def frame(request: HttpRequest) -> HttpResponse:
    """The chat window (the iframe's page). Framable only by the site's allowed
    domains (CSP ``frame-ancestors``); its own CSP allows nothing but us."""
    try:
        site = _site_or_404(request.GET.get("app_id"))
    except Http404:
        response = render(request, "conversations/widget/frame.html", {"missing": True}, status=404)
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'self'; frame-ancestors *"
        return response
    origin = charla_origin(request)
    ws_origin = origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    public = site_public_data(site, request)
    config = {
        "app_id": site.app_id,
        "origin": origin,
        "api": f"{origin}/api/widget/v1/",
        "ws": f"{ws_origin}/ws/widget/",
        "site": public,
        "limits": {
            "max_bytes": settings.CHARLA["ATTACHMENT_MAX_BYTES"],
            "types": [
                t for t in settings.CHARLA["ATTACHMENT_TYPES"] if t.startswith("image/") or t == "application/pdf"
            ],
            "max_chars": settings.CHARLA["MESSAGE_MAX_CHARS"],
        },
    }
    ancestors = " ".join(["'self'", *_source_list(site.allowed_domains)])
    csp = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob: https: http:",
            f"connect-src 'self' {ws_origin}",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {ancestors}",
        ]
    )
    response = render(
        request,
        "conversations/widget/frame.html",
        {"site": site, "public": public, "config": config, "locale": public["locale"] or "en"},
    )
    response["Content-Security-Policy"] = csp
    response["Cache-Control"] = "private, max-age=0, must-revalidate"
    response["Referrer-Policy"] = "same-origin"
    response["X-Content-Type-Options"] = "nosniff"
    return response
