"""Idle sockets held by one web process: open K widget sockets, read the
server's RSS before and after, check a sample still answers ``ping``.

Standalone: ``.venv/bin/python -m bench.idle_sockets --sockets 10000 [--app floor]``
(``bench/realtime.py`` calls :func:`measure` in ``--full`` mode). ``--deflate``
lets the sockets negotiate per-message deflate, as browsers do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from . import data
from .client import Hub, Target, close_all, open_socket, raise_nofile
from .server import Server


async def measure(server: Server, target: Target, urls: list[str], *, concurrency: int = 200,
                  sample: int = 200, idle_seconds: float = 10.0, connect_budget: float = 600.0,
                  compression: str | None = None) -> dict:
    hub = Hub()
    origin = target.visitor_origin
    sem = asyncio.Semaphore(concurrency)

    # Warm the code paths (imports, layer and DB connections), then let go.
    warm = await asyncio.gather(*(open_socket(u, origin, hub.visitor_frame, hub, sem, compression=compression)
                                  for u in urls[:20]))
    await asyncio.sleep(1)
    await close_all(list(warm), graceful=True)
    await asyncio.sleep(3)
    rss_before, fds_before = server.rss_kb(), server.open_fds()
    closed_before = hub.closed  # the warm-up sockets we closed ourselves

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(open_socket(u, origin, hub.visitor_frame, hub, sem, compression=compression))
             for u in urls]
    done, pending = await asyncio.wait(tasks, timeout=connect_budget)
    for t in pending:
        t.cancel()
    socks = [t.result() for t in done if not t.cancelled() and t.exception() is None]
    failures = [repr(t.exception())[:200] for t in done if not t.cancelled() and t.exception() is not None]
    connect_seconds = time.perf_counter() - t0

    await asyncio.sleep(min(5.0, idle_seconds))  # let connect handlers and presence settle
    cpu0, w0 = server.cpu_seconds(), time.perf_counter()
    await asyncio.sleep(idle_seconds)
    idle_cpu_pct = (server.cpu_seconds() - cpu0) / (time.perf_counter() - w0) * 100
    rss_after, fds_after = server.rss_kb(), server.open_fds()

    # Are they alive? ping a sample, count pongs.
    hub.stray.clear()
    picked = random.Random(3).sample(socks, min(sample, len(socks)))
    for s in picked:
        await s.ws.send(json.dumps({"type": "ping", "data": {}}))
    deadline = time.perf_counter() + 15
    while hub.stray["pong"] < len(picked) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    alive_closed = hub.closed - closed_before

    await close_all(socks)
    await asyncio.sleep(min(5.0, idle_seconds))
    rss_closed = server.rss_kb()
    opened = len(socks)
    negotiated = socks[0].ws.response.headers.get("Sec-WebSocket-Extensions") if socks else None
    return {
        "app": target.app,
        "server": server.kind,
        "permessage_deflate": negotiated,
        "requested": len(urls),
        "opened": opened,
        "failures": len(failures),
        "failure_examples": failures[:3],
        "closed_by_server_while_idle": alive_closed,
        "connect_seconds": round(connect_seconds, 1),
        "connect_rate_per_s": round(opened / max(connect_seconds, 1e-9), 1),
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "rss_after_close_kb": rss_closed,
        "kb_per_socket": round((rss_after - rss_before) / max(opened, 1), 1),
        "server_fds_before": fds_before,
        "server_fds_after": fds_after,
        "idle_cpu_pct": round(idle_cpu_pct, 1),
        "ping_sample": len(picked),
        "pongs": hub.stray["pong"],
    }


def idle_urls(target: Target, ds: data.Dataset, count: int) -> list[str]:
    if target.app == "floor":
        return [f"{target.base}/ws/floor/?role=visitor&room={100000 + i}" for i in range(count)]
    return [target.idle_url(t) for t in ds.idle_tokens[:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--app", choices=["charla", "floor"], default="charla")
    parser.add_argument("--server", choices=["uvicorn", "uvicorn-legacy", "daphne"], default="uvicorn")
    parser.add_argument("--deflate", action="store_true",
                        help="server accepts and clients offer per-message deflate, as browsers do")
    args = parser.parse_args()
    raise_nofile()
    data.ensure_database()
    ds = data.ensure_dataset(conversations=1000, agents_per_account=4, convs_per_agent=5, idle_contacts=max(args.sockets, 10_000))
    data.reset_state()
    server = Server(kind=args.server, app=args.app, deflate=args.deflate)
    server.start()
    try:
        target = Target(args.app, server.port)
        result = asyncio.run(measure(server, target, idle_urls(target, ds, args.sockets),
                                     compression="deflate" if args.deflate else None))
    finally:
        server.stop()
        data.redis_cleanup()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
