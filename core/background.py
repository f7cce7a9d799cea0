"""Jobs an event loop runs without anyone awaiting them: a socket's presence
grace after it closes, what follows a send made from the loop.

The loop keeps only weak references to tasks, so they are held here until
they finish; a failure is logged, never lost silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

_background: set[asyncio.Task] = set()


def run_later(delay: float, job: Callable[[], Awaitable[Any]]) -> asyncio.Task:
    """Run ``job()`` on this loop after ``delay`` seconds (0: at once)."""
    async def runner() -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await job()
        except Exception:
            logger.exception("background job failed")

    task = asyncio.get_running_loop().create_task(runner())
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def wait_background() -> None:
    """Let pending jobs finish (tests, graceful shutdown)."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)
