"""``core.presence``: live sockets in Redis, and this process's own."""

from __future__ import annotations

import time

from core import presence


def test_a_socket_of_this_process_is_live_without_asking_redis(monkeypatch):
    presence.connect("member", 910_001, "here-1")
    try:
        monkeypatch.setattr(presence, "live_count", lambda *args: 0)  # Redis would say no
        assert presence.is_live("member", 910_001)
    finally:
        presence.disconnect("member", 910_001, "here-1")
    monkeypatch.undo()
    assert not presence.is_live("member", 910_001)


def test_a_socket_of_another_process_is_seen_in_redis():
    # Another process's socket: only its Redis entry exists here.
    key = presence._key("contact", 910_002)
    presence._client().zadd(key, {"elsewhere-1": time.time()})
    try:
        assert presence.is_live("contact", 910_002)
    finally:
        presence._client().delete(key)
    assert not presence.is_live("contact", 910_002)


def test_one_of_two_local_sockets_closing_keeps_the_subject_live():
    presence.connect("contact", 910_003, "tab-1")
    presence.connect("contact", 910_003, "tab-2")
    assert presence.disconnect("contact", 910_003, "tab-1") == 1
    assert presence.is_live("contact", 910_003)
    assert presence.disconnect("contact", 910_003, "tab-2") == 0
    assert not presence.is_live("contact", 910_003)


def test_a_subject_found_live_elsewhere_counts_as_live_for_a_few_seconds_without_redis():
    # The send path asks ``was_live_lately`` on the event loop (no Redis): a
    # member whose socket another process serves is known live once a worker
    # thread's ``is_live`` found them, until ``LATELY_SECONDS`` pass.
    key = presence._key("member", 910_004)
    assert not presence.was_live_lately("member", 910_004)
    presence._client().zadd(key, {"elsewhere-2": time.time()})
    try:
        assert presence.is_live("member", 910_004)
        assert presence.was_live_lately("member", 910_004)
        # Found live longer ago than that: ask again.
        presence._elsewhere[("member", 910_004)] = time.monotonic() - presence.LATELY_SECONDS - 1
        assert not presence.was_live_lately("member", 910_004)
    finally:
        presence._client().delete(key)
    # Gone from Redis: the next look forgets it at once.
    assert not presence.is_live("member", 910_004)
    assert not presence.was_live_lately("member", 910_004)


def test_a_socket_of_this_process_is_live_lately_without_asking_redis(monkeypatch):
    monkeypatch.setattr(presence, "live_count", lambda *args: 0)
    presence.connect("member", 910_005, "here-2")
    try:
        assert presence.was_live_lately("member", 910_005)
    finally:
        presence.disconnect("member", 910_005, "here-2")
    assert not presence.was_live_lately("member", 910_005)


def test_what_is_remembered_of_other_processes_stays_bounded(monkeypatch):
    monkeypatch.setattr(presence, "_ELSEWHERE_MAX", 3)
    monkeypatch.setattr(presence, "live_count", lambda *args: 1)
    monkeypatch.setattr(presence, "_elsewhere", {("member", n): time.monotonic() - 60 for n in range(3)})
    assert presence.is_live("member", 910_006)
    assert presence._elsewhere.keys() == {("member", 910_006)}
