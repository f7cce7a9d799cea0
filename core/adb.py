"""PostgreSQL from the server's event loop: a small asynchronous pool.

For the one statement that is most of the real-time traffic — a visitor's
message into their open chat (``conversations.services._send_lock.send_one_async``)
— the socket need not hand its frame to a worker thread: the statement runs
on the loop, on a ``psycopg.AsyncConnection`` configured as Django configures
its own (the same connection parameters, adapters, time zone and role), in
autocommit. Everything else uses Django's connections, on worker threads.

One pool per event loop (a server has one; tests make one per test and close
it with :func:`close`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

logger = logging.getLogger(__name__)

#: Connections per loop: statements in flight at once (each is short).
POOL_MIN, POOL_MAX = 1, 4

_pools: dict[asyncio.AbstractEventLoop, Any] = {}


def _params() -> dict[str, Any]:
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)  # Django's sync cursor classes
    params["autocommit"] = True
    if "context" in params and connection.timezone == dt.UTC:
        params["context"] = _with_fast_timestamps(params["context"])
    # ``prepare_threshold`` as settings set it (out of reach): only what asks
    # (``execute(prepare=True)``) is prepared. ``None`` would prepare nothing.
    return params


def _with_fast_timestamps(django_context: Any) -> Any:
    """Django's adapters, but ``timestamptz`` read by psycopg's own loader
    (C) rather than Django's subclass of the pure-Python one. The same
    values: the session is in UTC (``_configure``), for which psycopg's
    loader gives ``datetime.timezone.utc`` — what Django's sets. A message's
    row holds a dozen timestamps; they were a tenth of the statement's CPU."""
    from psycopg import adapt, adapters, postgres
    from psycopg.pq import Format

    context = adapt.AdaptersMap(django_context)
    context.register_loader("timestamptz", adapters.get_loader(postgres.types["timestamptz"].oid, Format.TEXT))
    return context


def _timeout() -> float:
    """Seconds to wait for a connection: Django's pool's (``DB_POOL_TIMEOUT``), or 10."""
    from django.db import connection

    options = connection.settings_dict["OPTIONS"].get("pool")
    return float(options.get("timeout", 10)) if isinstance(options, dict) else 10.0


async def _configure(aconnection: Any) -> None:
    from django.db import connection

    timezone_name = connection.timezone_name
    if timezone_name and aconnection.info.parameter_status("TimeZone") != timezone_name:
        await aconnection.execute(connection.ops.set_time_zone_sql(), [timezone_name])
    if role := connection.settings_dict["OPTIONS"].get("assume_role"):
        await aconnection.execute(connection.ops.compose_sql("SET ROLE %s", [role]))


async def pool() -> Any:
    """This loop's pool, opened on first use."""
    from psycopg_pool import AsyncConnectionPool

    loop = asyncio.get_running_loop()
    found = _pools.get(loop)
    if found is None:
        # Opened once per loop; a second caller while it opens waits for the
        # same pool (the dict is filled before the first await).
        found = AsyncConnectionPool(
            kwargs=_params(), min_size=POOL_MIN, max_size=POOL_MAX, configure=_configure, open=False,
            name="charla-loop", timeout=_timeout(),
        )
        _pools[loop] = found
        _gates[found] = asyncio.Semaphore(POOL_MAX)
        await found.open(wait=True)
    return found


class connection:  # noqa: N801 - used as ``async with adb.connection() as aconnection``
    """A connection of this loop's pool, for one statement.

    Under load every connection is busy and sends queue for one. Waiting in
    the pool costs each a task and a condition (``psycopg_pool``'s waiting
    clients, with a timeout through ``wait_for``); here they wait their
    turn on a semaphore of the pool's size instead — a plain future — and
    then find a connection free. The pool's timeout still holds
    (``PoolTimeout``)."""

    __slots__ = ("_held", "_gate")

    async def __aenter__(self) -> Any:
        found = await pool()
        gate = _gates[found]
        if gate.locked():
            try:
                async with asyncio.timeout(found.timeout):
                    await gate.acquire()
            except TimeoutError:
                from psycopg_pool import PoolTimeout

                raise PoolTimeout(f"couldn't get a connection after {found.timeout:.2f} sec") from None
        else:
            await gate.acquire()
        self._gate = gate
        try:
            self._held = found.connection()
            return await self._held.__aenter__()
        except BaseException:
            gate.release()
            raise

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._held.__aexit__(*exc)
        finally:
            self._gate.release()


#: Per pool: a semaphore of its size (``connection``).
_gates: dict[Any, asyncio.Semaphore] = {}


async def close() -> None:
    """Close this loop's pool (tests; a server's lives as long as it does)."""
    found = _pools.pop(asyncio.get_running_loop(), None)
    if found is not None:
        _gates.pop(found, None)
        await found.close()
