"""Settings of a long-running server process (the ASGI server)."""

from __future__ import annotations

import gc
import os


def tune_gc() -> None:
    """Fewer, shorter garbage-collector pauses in a real-time process.

    Such a process holds many long-lived objects (a consumer, its queues and
    buffers per socket). With CPython's default thresholds, full collections
    ran every second or two while sockets connected and stopped the loop for
    80-390 ms at 1,200 sockets: the bench's p99 at 100 msg/s was 382-411 ms.
    What start-up made (Django, URL and template caches) is frozen so no
    collection scans it again, and the young generation is collected less
    often: p99 10-12 ms, and about 20 % more messages a second at
    saturation (docs/decisions.md, "Garbage collection in the server").
    ``GC_TUNE=0`` keeps CPython's defaults.
    """
    if os.environ.get("GC_TUNE", "1") == "0":
        return
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
