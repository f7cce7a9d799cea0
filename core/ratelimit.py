"""Fixed-window counters in Redis (through Django's cache)."""

from __future__ import annotations

import time

from django.core.cache import cache


def _bucket(key: str, window: int) -> str:
    return f"rl:{key}:{int(time.time() // window)}"


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one hit on ``key``; ``False`` once more than ``limit`` fall in the window.

    One round trip (``INCR`` + ``EXPIRE`` pipelined) when the cache is Redis:
    it runs on every message a visitor sends.
    """
    bucket = _bucket(key, window)
    raw_client = getattr(cache, "raw_client", None)
    if raw_client is not None:
        redis_key = cache.make_and_validate_key(bucket)
        pipe = raw_client().pipeline(transaction=False)
        pipe.incr(redis_key)
        pipe.expire(redis_key, window + 1)
        count, _ = pipe.execute()
        return int(count) <= limit
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
