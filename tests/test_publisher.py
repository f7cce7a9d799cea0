"""``core.channel_layer.Publisher``: batches, order, and a Redis that hangs."""

from __future__ import annotations

import asyncio

import pytest

from core.channel_layer import Outgoing, Publisher


class RecordingLayer:
    def __init__(self, hang: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.hang = hang

    async def group_send(self, group, message):
        if self.hang:
            await asyncio.sleep(3600)
        await asyncio.sleep(0)  # a round trip
        self.sent.append((group, message["n"]))


async def _settle(publisher: Publisher) -> None:
    while publisher.task is not None:
        await asyncio.sleep(0.01)


async def test_events_go_out_in_the_order_handed_over():
    layer = RecordingLayer()
    publisher = Publisher(layer)
    for n in range(5):
        publisher.enqueue(Outgoing([f"g{n % 2}", "all"], {"n": n}, "e"))
    await _settle(publisher)
    assert [n for group, n in layer.sent if group == "all"] == [0, 1, 2, 3, 4]
    assert [n for group, n in layer.sent if group == "g1"] == [1, 3]


async def test_a_hanging_layer_neither_blocks_for_ever_nor_grows_without_bound(monkeypatch, caplog):
    monkeypatch.setattr(Publisher, "TIMEOUT", 0.05)
    monkeypatch.setattr(Publisher, "MAX_PENDING", 3)
    layer = RecordingLayer(hang=True)
    publisher = Publisher(layer)
    publisher.enqueue(Outgoing(["g"], {"n": 0}, "e"))  # on the wire, hangs
    await asyncio.sleep(0.01)
    for n in range(1, 6):
        publisher.enqueue(Outgoing(["g"], {"n": n}, "e"))
    assert len(publisher.pending) == 3 and publisher.dropped == 2
    layer.hang = False
    await asyncio.wait_for(_settle(publisher), 2)
    assert [n for _, n in layer.sent] == [1, 2, 3]  # the hung batch timed out; the dropped ones are gone
    assert "realtime publish failed" in caplog.text and "backlog full" in caplog.text


pytestmark = pytest.mark.asyncio


async def test_worker_threads_hand_events_to_the_loop_in_order(monkeypatch):
    """``realtime.send_now`` on worker threads of the server: every event
    reaches the loop's publisher, each thread's in the order it sent them,
    with one loop wake-up per bunch rather than per event."""
    import threading

    from core import realtime

    layer = RecordingLayer()
    got: list[tuple[int, int]] = []
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(realtime, "_enqueue", lambda _layer, outgoing: got.append(outgoing.message["frame"]["data"]["k"]))
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(realtime, "_server_loop", loop)
    wakeups = 0
    real = loop.call_soon_threadsafe

    def counting(callback, *args):
        nonlocal wakeups
        wakeups += 1
        return real(callback, *args)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)

    def worker(t: int) -> None:
        for n in range(200):
            realtime.send_now(groups=["g"], event="e", data={"k": (t, n)})

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)
    assert len(got) == 800
    for t in range(4):
        assert [n for who, n in got if who == t] == list(range(200))
    assert wakeups < 800


async def test_frame_ids_are_unique_and_a_forked_child_takes_its_own():
    import os

    from core import realtime

    ids = {realtime.build_frame("ping", {})["id"] for _ in range(1000)}
    assert len(ids) == 1000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first frame id, to the parent
        os.write(write, realtime.build_frame("ping", {})["id"].encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    assert child not in ids and child[:16] != next(iter(ids))[:16]
