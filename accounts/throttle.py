"""Login throttling in the shared cache (Redis).

Failures are counted per client IP and per email in fixed windows of
``settings.LOGIN_THROTTLE["window"]`` seconds that start at the first failure.
Once either counter reaches its limit (``per_ip`` / ``per_email``) every
attempt is refused without checking the password until the window ends. A
successful login clears the email's counter (not the IP's, so one good
password cannot unlock guessing at other emails from that IP).
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache


def _keys(kind: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"login-fail:{kind}:{digest}", f"login-fail:{kind}:{digest}:since"


def _subjects(ip: str | None, email: str) -> list[tuple[str, str, int]]:
    conf = settings.LOGIN_THROTTLE
    subjects = []
    if ip:
        subjects.append(("ip", ip, conf["per_ip"]))
    email = (email or "").strip().lower()
    if email:
        subjects.append(("email", email, conf["per_email"]))
    return subjects


def retry_after(*, ip: str | None, email: str) -> int:
    """Seconds until a login may be tried again; 0 when it may be tried now."""
    window = settings.LOGIN_THROTTLE["window"]
    now = time.time()
    wait = 0
    for kind, value, limit in _subjects(ip, email):
        count_key, since_key = _keys(kind, value)
        values = cache.get_many([count_key, since_key])
        if values.get(count_key, 0) >= limit:
            since = values.get(since_key, now)
            wait = max(wait, int(math.ceil(since + window - now)), 1)
    return wait


def register_failure(*, ip: str | None, email: str) -> None:
    window = settings.LOGIN_THROTTLE["window"]
    now = time.time()
    for kind, value, _limit in _subjects(ip, email):
        count_key, since_key = _keys(kind, value)
        cache.add(since_key, now, timeout=window)
        cache.add(count_key, 0, timeout=window)
        try:
            cache.incr(count_key)
        except ValueError:  # expired between add and incr
            cache.set(count_key, 1, timeout=window)


def reset_email(*, email: str) -> None:
    cache.delete_many(list(_keys("email", (email or "").strip().lower())))
