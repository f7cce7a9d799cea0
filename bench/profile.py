"""Where the server's CPU goes: ``py-spy record --gil`` on the server while a
run is in progress, folded into the parts of the write path.

Optional (``pip install py-spy``); ``bench/realtime.py --profile`` profiles
the closed-loop run of the largest size, for the real app and the floor.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from . import env as benv

#: (label, substrings of a frame). Checked in this order against the whole
#: stack; the first label with a matching frame takes the sample, so the
#: write-path parts come before the infrastructure they call into.
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("rate limit (Redis via Django cache)", ("(core/ratelimit.py",)),
    ("Celery enqueue (offline e-mail task)", ("apply_async",)),
    ("group_send from the worker thread (async_to_sync)", ("send_now (core/realtime.py",)),
    ("inbox HTML fragments (conversations/html.py)", ("(conversations/html.py", "render_to_string")),
    ("event payloads (message_data / conversation_data)", ("(conversations/events.py",)),
    ("duplicate check (_existing)", ("_existing (conversations/services/messages.py",)),
    ("row lock with 5 joins (_lock)", ("_lock (conversations/services/conversations.py",)),
    ("row lock for a send (_lock_for_send, 3 joins)", ("_lock_for_send (conversations/services/messages.py",)),
    ("the send's statement (send_one[_async], psycopg)", ("send_one (conversations/services/_send_lock.py",
                                                        "send_one_async (conversations/services/_send_lock.py",
                                                        "(core/adb.py", "(psycopg_pool/")),
    ("INSERT/UPDATE (Model.save)", ("Model.save ",)),
    ("commit / savepoints", ("(django/db/transaction.py",)),
    ("the send's service code (contact_message_send[_async])", ("contact_message_send",)),
    ("socket open (token, presence)", ("_open (conversations/consumers/",)),
    ("floor INSERT", ("_insert (bench/floor_app.py",)),
    ("WebSocket protocol (websockets library)", ("(websockets/",)),
    ("channel layer (channels_redis, redis asyncio)", ("(channels_redis/", "(redis/asyncio/", "_AsyncRESP")),
    ("JSON", ("(json/",)),
    ("other consumer / service code", ("(conversations/", "(core/", "(bench/floor_app.py")),
    ("thread hops (asgiref)", ("(asgiref/",)),
    ("Channels plumbing", ("(channels/",)),
]


def available() -> bool:
    return (benv.VENV_BIN / "py-spy").exists() or shutil.which("py-spy") is not None


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    exe = str(benv.VENV_BIN / "py-spy") if (benv.VENV_BIN / "py-spy").exists() else "py-spy"
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [exe, "record", "--gil", "--nonblocking", "-r", "500", "-p", str(pid), "-d", str(int(seconds)),
         "-f", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def fold(path: Path) -> dict:
    """Share of GIL-holding samples per part of the path."""
    parts: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, n = line.rsplit(" ", 1)
        count = int(n)
        total += count
        frames = stack.split(";")
        label = "event loop, uvicorn, other"
        for name, needles in PARTS:
            if any(needle in f for f in frames for needle in needles):
                label = name
                break
        parts[label] += count
    return {"samples": total, "parts": {k: round(v / total * 100, 1) for k, v in parts.most_common()}}
