"""Fixed-window counters in Redis (through Django's cache)."""

from __future__ import annotations

import time

from django.core.cache import cache


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one hit on ``key``; ``False`` once more than ``limit`` fall in the window."""
    bucket = f"rl:{key}:{int(time.time() // window)}"
    if cache.add(bucket, 1, timeout=window + 1):
        return True
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=window + 1)
        return True
    return count <= limit


def count(key: str, *, window: int) -> int:
    return int(cache.get(f"rl:{key}:{int(time.time() // window)}") or 0)


def reset(key: str, *, window: int) -> None:
    cache.delete(f"rl:{key}:{int(time.time() // window)}")
