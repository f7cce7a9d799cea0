"""Fixed-window counters in Redis (through Django's cache)."""

from __future__ import annotations

import time

from django.core.cache import cache


def _bucket(key: str, window: int) -> str:
    return f"rl:{key}:{int(time.time() // window)}"


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one hit on ``key``; ``False`` once more than ``limit`` fall in the window.

    One ``INCR`` when the cache is Redis — it runs on every message a visitor
    sends; the first hit of a window also sets the key's expiry (a pipeline
    of both on every hit cost twice the client CPU on the real-time bench).
    Should the ``EXPIRE`` be lost (a crash between the two), the key is never
    read again: its window's name has passed.
    """
    bucket = _bucket(key, window)
    raw_client = getattr(cache, "raw_client", None)
    if raw_client is not None:
        redis_key = cache.make_and_validate_key(bucket)
        client = raw_client()
        count = int(client.incr(redis_key))
        if count == 1:
            client.expire(redis_key, window + 1)
        return count <= limit
    if cache.add(bucket, 1, timeout=window + 1):
        return True
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=window + 1)
        return True
    return count <= limit


def count(key: str, *, window: int) -> int:
    return int(cache.get(_bucket(key, window)) or 0)


def reset(key: str, *, window: int) -> None:
    cache.delete(_bucket(key, window))
