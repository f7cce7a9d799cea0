"""Helpers shared by the browser tests."""

import threading

from django.db import connections


def off_loop(fn, *args, **kwargs):
    """Run a service in a worker thread: Playwright's sync API keeps an event
    loop in the test's thread, where ``async_to_sync`` (the realtime publish)
    refuses to run. The thread's database connection is closed afterwards."""
    result: dict = {}

    def run():
        try:
            result["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in result:
        raise result["error"]
    return result.get("value")
