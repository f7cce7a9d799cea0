"""Helpers for socket tests: real Redis channel layer (a prefix of its own per
test, so parallel runs never hear each other), WebsocketCommunicator against
``config.asgi.application``, and small receive helpers.

Import the autouse fixture into a test module with
``from tests.conversations.wsutil import realtime_env  # noqa: F401``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from conversations.consumers.base import wait_background
from conversations.services import visitor_token_make

ORIGIN = "http://localhost"
SITE_ORIGIN = "https://shop.example.test"


@pytest.fixture(autouse=True)
async def realtime_env(settings, monkeypatch, transactional_db):
    """Own channel prefix, no presence grace, generous limits, eager Celery
    (but no offline-email task: it is tested on its own and costs a round of
    queries per message). Sockets need committed rows, hence a transactional
    database; grace jobs finish before it is flushed."""
    from config.celery import app as celery_app
    from conversations import tasks
    from core import adb

    monkeypatch.setattr(tasks.message_notify_offline_task, "delay", lambda *args, **kwargs: None)

    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"t{uuid.uuid4().hex[:10]}"
    settings.CHANNEL_LAYERS = layers
    charla = dict(settings.CHARLA)
    charla.update(PRESENCE_GRACE_SECONDS=0, RATE_LIMIT_PER_CONNECTION=1000, RATE_LIMIT_PER_CONTACT=1000)
    settings.CHARLA = charla
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield settings
    await wait_background()
    await adb.close()  # the loop's own connections (one loop per test)
    celery_app.conf.task_always_eager = eager


def set_limits(settings, **values: Any) -> None:
    charla = dict(settings.CHARLA)
    charla.update(values)
    settings.CHARLA = charla


def _app():
    from config.asgi import application

    return application


async def connect(path: str, *, origin: str | None = ORIGIN, cookie: str | None = None) -> WebsocketCommunicator:
    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    comm = WebsocketCommunicator(_app(), path, headers=headers)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


async def widget_socket(contact, *, origin: str | None = ORIGIN) -> WebsocketCommunicator:
    comm = await connect(f"/ws/widget/?token={visitor_token_make(contact)}", origin=origin)
    await assert_open(comm)
    return comm


def jwt_for(membership) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(membership.user).access_token)


async def agent_socket(membership, *, origin: str | None = ORIGIN, via: str = "jwt") -> WebsocketCommunicator:
    """An inbox socket of ``membership``, by JWT (default) or session cookie."""
    if via == "session":
        cookie = await database_sync_to_async(session_cookie)(membership)
        comm = await connect("/ws/agent/", origin=origin, cookie=cookie)
    else:
        path = await database_sync_to_async(agent_path)(membership)
        comm = await connect(path, origin=origin)
    await assert_open(comm)
    return comm


def agent_path(membership) -> str:
    return f"/ws/agent/?token={jwt_for(membership)}&account={membership.account.slug}"


def session_cookie(membership) -> str:
    from django.conf import settings
    from django.test import Client

    from core.tenancy import SESSION_KEY
    from tests.factories import PASSWORD

    client = Client()
    assert client.login(email=membership.user.email, password=PASSWORD)
    session = client.session
    session[SESSION_KEY] = membership.account_id
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


async def assert_open(comm: WebsocketCommunicator) -> None:
    """The socket answers a ping (so connect() finished without a close)."""
    await comm.send_json_to({"type": "ping"})
    frame = await receive(comm, "pong")
    assert frame["type"] == "pong"


async def receive(comm: WebsocketCommunicator, kind: str, *, timeout: float = 3) -> dict[str, Any]:
    """The next frame of type ``kind``, skipping others."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"no {kind!r} frame within {timeout}s")
        frame = await comm.receive_json_from(timeout=left)
        if frame["type"] == kind:
            return frame


async def frames_until(comm: WebsocketCommunicator, kind: str, *, timeout: float = 3) -> list[dict[str, Any]]:
    """Every frame up to and including the first of type ``kind``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = []
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"no {kind!r} frame within {timeout}s; got {[f['type'] for f in seen]}")
        frame = await comm.receive_json_from(timeout=left)
        seen.append(frame)
        if frame["type"] == kind:
            return seen


async def drain(comm: WebsocketCommunicator, *, timeout: float = 0.3) -> list[dict[str, Any]]:
    """Whatever arrives within ``timeout`` (after a ping round trip, so every
    frame sent before it has been handled)."""
    await comm.send_json_to({"type": "ping"})
    seen = await frames_until(comm, "pong")
    # Not receive_output(timeout): a timeout there cancels the application.
    await asyncio.sleep(timeout)
    while not comm.output_queue.empty():
        output = comm.output_queue.get_nowait()
        assert output["type"] == "websocket.send", output
        seen.append(json.loads(output["text"]))
    return [f for f in seen if f["type"] != "pong"]


async def expect_close(comm: WebsocketCommunicator, code: int) -> dict[str, Any]:
    while True:
        output = await comm.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            assert output.get("code") == code, output
            return output


async def close(*comms: WebsocketCommunicator) -> None:
    for comm in comms:
        await comm.disconnect()
    await wait_background()
