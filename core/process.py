"""Settings of a long-running server process (the ASGI server)."""

from __future__ import annotations

import gc
import logging
import os
import time

logger = logging.getLogger(__name__)


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
    ``GC_TUNE=0`` keeps CPython's defaults; ``GC_LOG_MS=<ms>`` logs every
    collection that stops the process longer than that.
    """
    if os.environ.get("GC_LOG_MS"):
        log_gc_pauses(float(os.environ["GC_LOG_MS"]))
    if os.environ.get("GC_TUNE", "1") == "0":
        return
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def log_gc_pauses(threshold_ms: float) -> None:
    started: list[float] = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        pause = (time.perf_counter() - started[0]) * 1000
        if pause >= threshold_ms:
            logger.warning(
                "gc pause %.1f ms (generation %s, %s collected, %s uncollectable)",
                pause, info.get("generation"), info.get("collected"), info.get("uncollectable"),
            )

    gc.callbacks.append(callback)
