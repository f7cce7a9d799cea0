"""JWT for API clients: ``POST /api/v1/auth/token/`` (email + password →
access + refresh) and ``auth/token/refresh/``. Failed logins count toward the
same throttle as the login page (``accounts.throttle``)."""

from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from django.utils.translation import gettext as _

from accounts import throttle
from accounts.signals import client_ip


class TokenObtainApi(TokenObtainPairView):
    def post(self, request, *args, **kwargs):
        raw = request.data.get("email") if hasattr(request.data, "get") else None
        email = raw.strip().lower()[:254] if isinstance(raw, str) else ""
        ip = client_ip(request)
        wait = throttle.retry_after(ip=ip, email=email)
        if wait:
            return Response(
                {"error": "rate_limited", "detail": _("Too many failed logins. Try again in %(s)s seconds.") % {"s": wait}},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(wait)},
            )
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            throttle.register_failure(ip=ip, email=email)
            raise
        throttle.reset_email(email=email)
        return response


class TokenRefreshApi(TokenRefreshView):
    pass
