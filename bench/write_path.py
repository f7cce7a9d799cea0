"""In-process cost of one visitor message through the write path.

Calls what the widget socket's worker-thread hop calls (``_send`` in
``conversations.consumers.widget``: flood limit, ``contact_message_send``,
the ack frame) N times against the bench database, with the channel layer
live (the publishes reach Redis), and prints CPU ms and SQL statements per
message. ``--profile`` adds a cProfile of the loop (worker threads
included: ``threading.setprofile``). No sockets: this is the
service's share of the real-time bench's "server CPU ms/msg".

    .venv/bin/python -m bench.write_path -n 500 [--profile]
    .venv/bin/python -m bench.write_path -n 2000 --loop [--profile]

``--loop`` calls what the socket calls first instead (``_send_on_loop``: the
one statement on the event loop's own connection, then the events), one
message after another from one loop, events published as in the server.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
import uuid

from . import data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (cumulative, tottime)")
    parser.add_argument("--loop", action="store_true", help="the event loop's send (_send_on_loop)")
    parser.add_argument("--dump", help="write the cProfile stats to this file")
    args = parser.parse_args()

    data.ensure_database()
    data.django_setup(pool=True)  # as the server connects
    dataset = data.ensure_dataset(conversations=20, agents_per_account=4, convs_per_agent=5, idle_contacts=0)
    data.reset_state()

    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from conversations.consumers.base import hop
    from conversations.consumers.widget import _send, _send_on_loop
    from conversations.models import Contact
    from core import realtime

    convs = dataset.convs
    contacts = {c.contact_id: Contact.objects.select_related("site", "account").get(pk=c.contact_id) for c in convs}

    profiler = cProfile.Profile() if args.profile else None
    profiling = False

    def one(i: int) -> None:
        conv = convs[i % len(convs)]
        if profiling:
            profiler.enable()
        try:
            _send(contacts[conv.contact_id], conversation_id=conv.id, client_id=uuid.uuid4().hex, content=f"hola {i}")
        finally:
            if profiling:
                profiler.disable()

    # As in the server: each message is one worker-thread hop from a running
    # event loop, which publishes its events (core.realtime.send_now).
    hopped = hop(one)

    async def loop(n: int, start: int = 0) -> None:
        realtime.bind_loop(asyncio.get_running_loop())  # as config.asgi does
        for i in range(start, start + n):
            await hopped(i)
        await asyncio.sleep(0.05)  # let the last batch of events go out

    if args.loop:
        return _on_loop(args, convs, contacts, _send_on_loop, profiler)

    asyncio.run(loop(20))  # warm up
    with CaptureQueriesContext(connection) as queries:
        one(0)
    print(f"SQL per message: {len(queries.captured_queries)}")
    for q in queries.captured_queries:
        print("   ", q["sql"][:160])
    reset_queries()

    profiling = profiler is not None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(loop(args.n, 100))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(f"{args.n} messages: {cpu / args.n * 1000:.2f} ms CPU, {wall / args.n * 1000:.2f} ms wall per message")
    if profiler:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(45)


def _on_loop(args, convs, contacts, send_on_loop, profiler) -> None:
    from conversations.models import Conversation
    from core import adb, presence

    # As in the real-time bench, the assignees are online in this process
    # (else each send queues the offline e-mail's check on a thread).
    assignees = set(Conversation.objects.filter(pk__in=[c.id for c in convs]).values_list("assignee_id", flat=True))
    for member_id in assignees - {None}:
        presence.connect("member", member_id, "bench.write-path")

    async def run(n: int, start: int) -> float:
        for i in range(start, start + n):
            conv = convs[i % len(convs)]
            ack = await send_on_loop(contacts[conv.contact_id], conversation_id=conv.id,
                                     client_id=uuid.uuid4().hex, content=f"hola {i}", sender_channel=None)
            assert ack is not None, "the loop path declined the send"
            if i % 50 == 0:
                await asyncio.sleep(0)  # let the publisher's batches go out, as a busy server does
        await asyncio.sleep(0.05)

    async def main_loop() -> None:
        await run(20, 0)  # warm up: the pool, prepared statements
        if profiler:
            profiler.enable()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await run(args.n, 100)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if profiler:
            profiler.disable()
        print(f"{args.n} messages on the loop: {cpu / args.n * 1000:.3f} ms CPU, {wall / args.n * 1000:.3f} ms wall per message")
        await adb.close()

    try:
        asyncio.run(main_loop())
        if profiler and args.dump:
            profiler.dump_stats(args.dump)
    finally:
        for member_id in assignees - {None}:
            presence.disconnect("member", member_id, "bench.write-path")
    if profiler:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(45)


if __name__ == "__main__":
    main()
