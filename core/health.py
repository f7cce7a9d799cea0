"""Liveness, readiness and metrics endpoints (ARCHITECTURE §2, contract)."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

import core.metrics  # noqa: F401 - registers Charla's metrics in this process


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis_ping(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


def _check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        _redis_ping(url)
        return
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port or 5672), timeout=1):
        pass


CHECKS = {
    "database": _check_database,
    "redis": lambda: _redis_ping(settings.REDIS_URL),
    "broker": _check_broker,
}


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            results[name] = f"down: {type(exc).__name__}"
    down = [name for name, value in results.items() if value != "ok"]
    if down:
        results["down"] = down  # type: ignore[assignment]
    return JsonResponse(results, status=503 if down else 200)


@never_cache
def metrics(request):
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
