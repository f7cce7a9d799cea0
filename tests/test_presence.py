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
