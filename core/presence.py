"""Who has a live socket, kept in Redis.

One sorted set per subject (``contact`` or ``member``): members are channel
names, scores the last time that socket was seen. A socket that stops
refreshing (its process died) drops out after ``STALE_SECONDS``, so a crash
never leaves anyone "online" for ever. Consumers add on connect, refresh on
ping and remove on disconnect.

Each process also remembers its own live sockets (``_here``): a subject with
a socket in this process is live without asking Redis — the common case on
the send path (is the assignee online?) costs no round trip.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

import redis

from django.conf import settings

from .channel_layer import OthersOf

STALE_SECONDS = 90


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


#: (kind, subject id) -> channel names of this process's live sockets.
_here: dict[tuple[str, int], set[str]] = {}
_here_lock = threading.Lock()


def _key(kind: str, subject_id: int) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'charla')}:presence:{kind}:{subject_id}"


def connect(kind: str, subject_id: int, channel_name: str) -> int:
    """Record a socket; return how many live sockets the subject has now."""
    with _here_lock:
        _here.setdefault((kind, subject_id), set()).add(channel_name)
    now = time.time()
    key = _key(kind, subject_id)
    pipe = _client().pipeline()
    pipe.zadd(key, {channel_name: now})
    pipe.zremrangebyscore(key, "-inf", now - STALE_SECONDS)
    pipe.zcard(key)
    pipe.expire(key, STALE_SECONDS * 4)
    return int(pipe.execute()[2])


def refresh(kind: str, subject_id: int, channel_name: str) -> None:
    key = _key(kind, subject_id)
    pipe = _client().pipeline()
    pipe.zadd(key, {channel_name: time.time()})
    pipe.expire(key, STALE_SECONDS * 4)
    pipe.execute()


def disconnect(kind: str, subject_id: int, channel_name: str) -> int:
    """Forget a socket; return how many live sockets remain."""
    with _here_lock:
        channels = _here.get((kind, subject_id))
        if channels is not None:
            channels.discard(channel_name)
            if not channels:
                del _here[(kind, subject_id)]
    key = _key(kind, subject_id)
    pipe = _client().pipeline()
    pipe.zrem(key, channel_name)
    pipe.zremrangebyscore(key, "-inf", time.time() - STALE_SECONDS)
    pipe.zcard(key)
    return int(pipe.execute()[2])


def others_of(kind: str, subject_id: int, channel_name: str) -> OthersOf:
    """An event for the subject's live sockets other than ``channel_name``
    (published unless that one is the only one; ``core.channel_layer``)."""
    return OthersOf(_key(kind, subject_id), channel_name)


def live_count(kind: str, subject_id: int) -> int:
    return int(_client().zcount(_key(kind, subject_id), time.time() - STALE_SECONDS, "+inf"))


def is_live_here(kind: str, subject_id: int) -> bool:
    """Whether the subject has a live socket in this process (no Redis)."""
    return bool(_here.get((kind, subject_id)))


#: How long a subject that :func:`is_live` found live in another process
#: counts as live for :func:`was_live_lately`.
LATELY_SECONDS = 5.0

#: (kind, subject id) -> when :func:`is_live` last found it live only in
#: another process (``time.monotonic``). Past ``_ELSEWHERE_MAX`` entries,
#: the ones too old to count are dropped.
_elsewhere: dict[tuple[str, int], float] = {}
_ELSEWHERE_MAX = 10_000


def is_live(kind: str, subject_id: int) -> bool:
    """Whether the subject has a live socket: at once when it has one in this
    process, otherwise from Redis (sockets of other processes)."""
    if is_live_here(kind, subject_id):
        return True
    live = live_count(kind, subject_id) > 0
    if live:
        now = time.monotonic()
        if len(_elsewhere) >= _ELSEWHERE_MAX:
            for key, seen in list(_elsewhere.items()):
                if now - seen >= LATELY_SECONDS:
                    _elsewhere.pop(key, None)
        _elsewhere[(kind, subject_id)] = now
    else:
        _elsewhere.pop((kind, subject_id), None)
    return live


def was_live_lately(kind: str, subject_id: int) -> bool:
    """Without Redis: the subject has a live socket in this process, or
    :func:`is_live` found one in another process less than
    ``LATELY_SECONDS`` ago. ``False`` means "ask :func:`is_live`" — for the
    send path, which would otherwise hop to a worker thread on every
    message to an agent whose socket is served by another process."""
    if is_live_here(kind, subject_id):
        return True
    seen = _elsewhere.get((kind, subject_id))
    return seen is not None and time.monotonic() - seen < LATELY_SECONDS


def live_subjects(kind: str, subject_ids: list[int]) -> set[int]:
    """The subset of ``subject_ids`` with at least one live socket (one round trip)."""
    if not subject_ids:
        return set()
    floor = time.time() - STALE_SECONDS
    pipe = _client().pipeline()
    for subject_id in subject_ids:
        pipe.zcount(_key(kind, subject_id), floor, "+inf")
    return {sid for sid, n in zip(subject_ids, pipe.execute(), strict=True) if n}
