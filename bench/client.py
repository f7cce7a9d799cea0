"""WebSocket clients for the bench: visitor and agent sockets, the
open-loop / closed-loop / burst drivers, and the latency recorder.

Latency is visitor→agent: from the moment a send was *scheduled* (open loop;
so a stalled client or server cannot hide its own delay — no coordinated
omission) or issued (closed loop, burst) to the moment the agent socket
reads the ``message.created`` frame carrying that ``client_id``.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from . import env as benv
from .data import AgentSeat, Conv

now = time.perf_counter


def raise_nofile(limit: int = benv.NOFILE) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in ((limit, max(limit, hard)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, target)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


# --- What the bench talks to --------------------------------------------------

@dataclass
class Target:
    app: str  # "charla" (the real consumers) or "floor" (bench/floor_app.py)
    port: int
    delivery: str = "assigned"  # charla: "assigned" (member.<id>) or "join" (conversation.join)

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def visitor_url(self, conv: Conv) -> str:
        if self.app == "floor":
            return f"{self.base}/ws/floor/?role=visitor&room={conv.id}"
        return f"{self.base}/ws/widget/?token={conv.token}"

    def idle_url(self, token: str) -> str:
        return f"{self.base}/ws/widget/?token={token}"

    def agent_url(self, agent: AgentSeat, convs: list[Conv]) -> str:
        if self.app == "floor":
            return f"{self.base}/ws/floor/?role=agent&rooms=" + ",".join(str(c.id) for c in convs)
        return f"{self.base}/ws/agent/?token={agent.jwt}"

    @property
    def visitor_origin(self) -> str:
        return benv.WIDGET_ORIGIN

    @property
    def agent_origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def send_frame(self, conv: Conv, client_id: str, content: str) -> str:
        return json.dumps(
            {"type": "message.send", "data": {"conversation_id": conv.id, "client_id": client_id, "content": content}}
        )


# --- Recording ------------------------------------------------------------------

@dataclass
class Run:
    label: str
    prefix: str
    sent: dict[str, tuple[int, int]] = field(default_factory=dict)  # client_id → (conv id, seq)
    t_sent: dict[str, float] = field(default_factory=dict)
    lat: list[float] = field(default_factory=list)  # visitor→agent, seconds
    ack_lat: list[float] = field(default_factory=list)
    t_ack: list[float] = field(default_factory=list)
    t_delivered: list[float] = field(default_factory=list)
    delivered: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    dup_deliveries: int = 0
    dup_acks: int = 0
    agent_order_violations: int = 0
    errors: Counter = field(default_factory=Counter)
    waiters: dict[str, asyncio.Future] = field(default_factory=dict)
    _last_seq: dict[int, int] = field(default_factory=dict)
    _done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int | None = None

    def register(self, client_id: str, conv_id: int, seq: int, t: float) -> None:
        self.sent[client_id] = (conv_id, seq)
        self.t_sent[client_id] = t

    def on_ack(self, client_id: str | None, t: float) -> None:
        if client_id not in self.t_sent:
            return
        if client_id in self.acked:
            self.dup_acks += 1
        else:
            self.acked.add(client_id)
            self.ack_lat.append(t - self.t_sent[client_id])
            self.t_ack.append(t)
        waiter = self.waiters.pop(client_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def on_error(self, data: dict[str, Any]) -> None:
        self.errors[str(data.get("code"))] += 1
        waiter = self.waiters.pop(data.get("client_id") or "", None)
        if waiter is not None and not waiter.done():
            waiter.set_result(False)

    def on_delivered(self, client_id: str | None, t: float) -> None:
        if client_id not in self.t_sent:
            return
        if client_id in self.delivered:
            self.dup_deliveries += 1
            return
        self.delivered.add(client_id)
        self.lat.append(t - self.t_sent[client_id])
        self.t_delivered.append(t)
        conv_id, seq = self.sent[client_id]
        if seq <= self._last_seq.get(conv_id, -1):
            self.agent_order_violations += 1
        self._last_seq[conv_id] = seq
        if self.expected is not None and len(self.delivered) >= self.expected:
            self._done.set()

    async def wait_acked(self, timeout: float) -> bool:
        """Until every send got its ack (or an error): the server has no
        backlog left from this run."""
        deadline = now() + timeout
        while len(self.acked) + sum(self.errors.values()) < len(self.sent):
            if now() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def wait_delivered(self, expected: int, timeout: float) -> bool:
        self.expected = expected
        if len(self.delivered) >= expected:
            return True
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
            return True
        except TimeoutError:
            return False

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.lat)
        ack = sorted(self.ack_lat)

        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1000, 2)

        return {
            "sent": len(self.sent),
            "acked": len(self.acked),
            "delivered": len(self.delivered),
            "missing": len(self.sent) - len(self.delivered),
            "dup_deliveries": self.dup_deliveries,
            "dup_acks": self.dup_acks,
            "agent_order_violations": self.agent_order_violations,
            "errors": dict(self.errors),
            "lat_ms": {"p50": ms(percentile(lat, 50)), "p95": ms(percentile(lat, 95)), "p99": ms(percentile(lat, 99)),
                       "max": ms(lat[-1] if lat else None), "mean": ms(sum(lat) / len(lat) if lat else None)},
            "ack_ms": {"p50": ms(percentile(ack, 50)), "p95": ms(percentile(ack, 95)), "p99": ms(percentile(ack, 99))},
        }


class Hub:
    """Routes frames from every socket to the run in progress."""

    def __init__(self) -> None:
        self.run: Run | None = None
        self.stray = Counter()
        self.closed = 0

    def visitor_frame(self, raw: str | bytes) -> None:
        t = now()
        frame = json.loads(raw)
        kind = frame.get("type")
        run = self.run
        if run is None:
            self.stray[kind] += 1
            return
        data = frame.get("data") or {}
        if kind == "message.ack":
            run.on_ack(data.get("client_id"), t)
        elif kind == "error":
            run.on_error(data)

    def agent_frame(self, raw: str | bytes) -> None:
        t = now()
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "message.created" and self.run is not None:
            message = (frame.get("data") or {}).get("message") or {}
            self.run.on_delivered(message.get("client_id"), t)
        elif kind == "error":
            self.stray["agent_error:" + str((frame.get("data") or {}).get("code"))] += 1


# --- Sockets ----------------------------------------------------------------------

@dataclass
class Sock:
    ws: ClientConnection
    reader: asyncio.Task


async def open_socket(url: str, origin: str, on_frame, hub: Hub, sem: asyncio.Semaphore, *, attempts: int = 3,
                      compression: str | None = None) -> Sock:
    last: Exception | None = None
    for attempt in range(attempts):
        async with sem:
            try:
                ws = await connect(url, origin=origin, compression=compression, ping_interval=None,
                                   open_timeout=60, close_timeout=2, max_size=2**22)
                break
            except InvalidStatus as exc:  # a refused handshake will not get better
                raise RuntimeError(f"handshake refused: HTTP {exc.response.status_code} for {url.split('?')[0]}") from exc
            except (OSError, TimeoutError) as exc:
                last = exc
        await asyncio.sleep(0.2 * (attempt + 1))
    else:
        raise RuntimeError(f"could not connect to {url.split('?')[0]}: {last!r}")

    async def read() -> None:
        try:
            async for raw in ws:
                on_frame(raw)
        except ConnectionClosed:
            pass
        finally:
            hub.closed += 1

    return Sock(ws, asyncio.create_task(read()))


async def close_all(socks: list[Sock], *, graceful: bool = False) -> None:
    if graceful:
        await asyncio.gather(*(s.ws.close() for s in socks), return_exceptions=True)
    else:
        for s in socks:
            s.ws.transport.abort()
    for s in socks:
        s.reader.cancel()
    await asyncio.gather(*(s.reader for s in socks), return_exceptions=True)


@dataclass
class Live:
    """N live conversations: one visitor socket each, plus the agent sockets
    of the agents they are assigned to."""

    target: Target
    convs: list[Conv]
    agents: list[AgentSeat]
    visitors: list[Sock] = field(default_factory=list)
    agent_socks: list[Sock] = field(default_factory=list)
    connect_seconds: float = 0.0

    async def open(self, hub: Hub, *, concurrency: int = 64) -> None:
        sem = asyncio.Semaphore(concurrency)
        t0 = now()
        wanted = {c.index for c in self.convs}
        seats = [a for a in self.agents if any(ci in wanted for ci in a.convs)]
        by_index = {c.index: c for c in self.convs}
        self.agent_socks = list(await asyncio.gather(*(
            open_socket(self.target.agent_url(a, [by_index[ci] for ci in a.convs if ci in wanted]),
                        self.target.agent_origin, hub.agent_frame, hub, sem)
            for a in seats
        )))
        if self.target.app == "charla" and self.target.delivery == "join":
            for a, sock in zip(seats, self.agent_socks, strict=True):
                for ci in a.convs:
                    if ci in wanted:
                        await sock.ws.send(json.dumps({"type": "conversation.join", "data": {"conversation_id": by_index[ci].id}}))
        self.visitors = list(await asyncio.gather(*(
            open_socket(self.target.visitor_url(c), self.target.visitor_origin, hub.visitor_frame, hub, sem)
            for c in self.convs
        )))
        self.connect_seconds = now() - t0

    async def close(self) -> None:
        await close_all(self.visitors + self.agent_socks)


# --- Drivers -------------------------------------------------------------------------

def _content(client_id: str) -> str:
    return f"bench message {client_id}"


async def warmup(live: Live, hub: Hub, prefix: str, timeout: float = 60.0) -> dict[str, Any]:
    """One message per conversation, not measured: the first message on a
    socket pays one-off costs. Also proves every agent receives."""
    run = Run("warmup", prefix)
    hub.run = run
    for i, (conv, sock) in enumerate(zip(live.convs, live.visitors, strict=True)):
        cid = f"{prefix}-{i}-0"
        run.register(cid, conv.id, 0, now())
        await sock.ws.send(live.target.send_frame(conv, cid, _content(cid)))
    ok = await run.wait_delivered(len(live.convs), timeout)
    hub.run = None
    return {"ok": ok, **run.summary()}


async def open_loop(live: Live, hub: Hub, *, prefix: str, rate: float, total: int, drain: float,
                    max_backlog_seconds: float = 5.0) -> tuple[Run, dict]:
    """``total`` sends at a fixed aggregate ``rate``, spread round-robin over a
    shuffled list of the conversations; never waits for acks.

    Bounded: when more than ``max_backlog_seconds`` worth of sends are still
    unacknowledged the server is saturated at this rate; the run stops
    sending (``aborted``) instead of queueing minutes of work."""
    run = Run(f"open{rate}", prefix)
    hub.run = run
    n = len(live.convs)
    order = list(range(n))
    random.Random(7).shuffle(order)
    seq = [0] * n
    interval = 1.0 / rate
    t0 = now() + 0.05
    k = 0
    max_lag = 0.0
    aborted = False
    max_backlog = max(200, int(rate * max_backlog_seconds))
    while k < total:
        t = now()
        if k - len(run.acked) > max_backlog:
            aborted = True
            break
        due = t0 + k * interval
        if due > t:
            await asyncio.sleep(due - t)
            continue
        while k < total and t0 + k * interval <= t:
            i = order[k % n]
            conv = live.convs[i]
            cid = f"{prefix}-{i}-{seq[i]}"
            run.register(cid, conv.id, seq[i], t0 + k * interval)
            seq[i] += 1
            await live.visitors[i].ws.send(live.target.send_frame(conv, cid, _content(cid)))
            k += 1
        max_lag = max(max_lag, now() - (t0 + (k - 1) * interval))
    send_end = now()
    await run.wait_delivered(k, drain)
    drained = await run.wait_acked(drain)
    hub.run = None
    last = max(run.t_delivered) if run.t_delivered else send_end
    return run, {
        "aborted": aborted,
        "drained": drained,
        "send_seconds": round(send_end - t0, 3),
        "achieved_send_rate": round(k / max(send_end - t0, 1e-9), 1),
        "delivered_rate": round(len(run.delivered) / max(last - t0, 1e-9), 1),
        "scheduler_max_lag_ms": round(max_lag * 1000, 1),
    }


async def closed_loop(live: Live, hub: Hub, *, prefix: str, duration: float, drain: float,
                      per_visitor: int | None = None, max_in_flight: int | None = None,
                      ack_timeout: float = 120.0) -> tuple[Run, dict]:
    """Every visitor sends its next message as soon as the previous one is
    acknowledged, for ``duration`` seconds (or exactly ``per_visitor``
    messages each, within ``duration``): the server's saturation rate."""
    run = Run("closed", prefix)
    hub.run = run
    loop = asyncio.get_running_loop()
    t0 = now()
    end = t0 + duration
    timeouts = 0
    gate = asyncio.Semaphore(max_in_flight or len(live.convs))

    async def visitor(i: int) -> None:
        nonlocal timeouts
        conv, sock = live.convs[i], live.visitors[i]
        s = 0
        while now() < end and (per_visitor is None or s < per_visitor):
            async with gate:
                cid = f"{prefix}-{i}-{s}"
                waiter = loop.create_future()
                run.waiters[cid] = waiter
                run.register(cid, conv.id, s, now())
                s += 1
                await sock.ws.send(live.target.send_frame(conv, cid, _content(cid)))
                try:
                    await asyncio.wait_for(waiter, ack_timeout)
                except TimeoutError:
                    timeouts += 1
                    return

    await asyncio.gather(*(visitor(i) for i in range(len(live.convs))))
    t_end = now()
    await run.wait_delivered(len(run.sent), drain)
    drained = await run.wait_acked(drain)
    hub.run = None
    window = min(end, t_end) - t0
    acked_in_window = sum(1 for t in run.t_ack if t <= t0 + window)
    delivered_in_window = sum(1 for t in run.t_delivered if t <= t0 + window)
    return run, {
        "duration": round(t_end - t0, 3),
        "drained": drained,
        "throughput_acks": round(acked_in_window / window, 1),
        "throughput_delivered": round(delivered_in_window / window, 1),
        "ack_timeouts": timeouts,
    }


async def burst(live: Live, hub: Hub, *, prefix: str, per_conversation: int, drain: float) -> tuple[Run, dict]:
    """Every conversation sends ``per_conversation`` messages at the same
    instant; how long until the agents have them all."""
    run = Run("burst", prefix)
    hub.run = run
    t0 = now()
    for s in range(per_conversation):
        for i, (conv, sock) in enumerate(zip(live.convs, live.visitors, strict=True)):
            cid = f"{prefix}-{i}-{s}"
            run.register(cid, conv.id, s, t0)
            await sock.ws.send(live.target.send_frame(conv, cid, _content(cid)))
    send_end = now()
    ok = await run.wait_delivered(len(run.sent), drain)
    await run.wait_acked(drain)
    hub.run = None
    last = max(run.t_delivered) if run.t_delivered else now()
    return run, {
        "all_delivered": ok,
        "send_seconds": round(send_end - t0, 3),
        "time_to_last_ms": round((last - t0) * 1000, 1),
        "delivered_rate": round(len(run.delivered) / max(last - t0, 1e-9), 1),
    }
