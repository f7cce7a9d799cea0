"""``core.channel_layer.Publisher``: batches, order, and a Redis that hangs."""

from __future__ import annotations

import asyncio

import pytest

from core.channel_layer import Publisher


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
        publisher.enqueue([f"g{n % 2}", "all"], {"n": n}, "e")
    await _settle(publisher)
    assert [n for group, n in layer.sent if group == "all"] == [0, 1, 2, 3, 4]
    assert [n for group, n in layer.sent if group == "g1"] == [1, 3]


async def test_a_hanging_layer_neither_blocks_for_ever_nor_grows_without_bound(monkeypatch, caplog):
    monkeypatch.setattr(Publisher, "TIMEOUT", 0.05)
    monkeypatch.setattr(Publisher, "MAX_PENDING", 3)
    layer = RecordingLayer(hang=True)
    publisher = Publisher(layer)
    publisher.enqueue(["g"], {"n": 0}, "e")  # on the wire, hangs
    await asyncio.sleep(0.01)
    for n in range(1, 6):
        publisher.enqueue(["g"], {"n": n}, "e")
    assert len(publisher.pending) == 3 and publisher.dropped == 2
    layer.hang = False
    await asyncio.wait_for(_settle(publisher), 2)
    assert [n for _, n in layer.sent] == [1, 2, 3]  # the hung batch timed out; the dropped ones are gone
    assert "realtime publish failed" in caplog.text and "backlog full" in caplog.text


pytestmark = pytest.mark.asyncio
