"""Real-browser tests: Playwright (sync API) driving Debian's Chromium against
the real ASGI app served by uvicorn in a subprocess.

Fixtures
--------
``live_server_url``  the app (HTTP + WebSockets) on a free port, using the
                     pytest-django test database; session-scoped.
``other_origin_url`` ``serve(name, html) -> url``: a static page on another
                     origin (``http://localhost:<port>``, a different site
                     from ``http://127.0.0.1:<port>``), e.g. a customer's
                     shop embedding the widget.
``browser``          one Chromium for the session.
``page``             a fresh context + page per test (1280x800, 10 s timeout).
``new_page``         ``new_page()`` -> another page in its own context (cookies,
                     storage): two visitors, or an agent and a visitor.
``screenshot(page, name)`` saves ``var/screenshots/<name>.png``; a failing
test's pages are saved as ``var/screenshots/FAILED-<test>-<n>.png``. The
server's own output (tracebacks) is in ``var/log/live-server.log``.

Every test here is marked ``browser`` and gets ``transactional_db`` (rows are
committed, so the server process sees them; tables are flushed afterwards).
Write browser tests as plain ``def`` functions: Playwright's sync API cannot
run inside an event loop.

Playwright's sync API keeps an event loop running in the main thread while it
lives. Two consequences handled here: Django's async-unsafe guard must be
relaxed (``DJANGO_ALLOW_ASYNC_UNSAFE``) while the browser runs, and no asyncio
test may run after it starts — so browser tests are moved to the end of the
run and the browser is closed when the session ends.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROWSER_DIR = Path(__file__).resolve().parent
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
DEFAULT_TIMEOUT_MS = 10_000
SERVER_START_TIMEOUT = 30


def _is_browser_test(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(BROWSER_DIR)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark browser tests and run them last (see the module docstring)."""
    browser, others = [], []
    for item in items:
        if _is_browser_test(item):
            item.add_marker(pytest.mark.browser)
            browser.append(item)
        else:
            others.append(item)
    items[:] = others + browser


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as var/screenshots/<name>.png and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


LIVE_NAMESPACE: dict[str, str] = {}


@pytest.fixture(scope="session", autouse=True)
def _flush_retries_on_deadlock():
    """Between browser tests the database is truncated while the live server
    may still be writing (a socket's disconnect marks its visitor offline).
    PostgreSQL then aborts the TRUNCATE as a deadlock victim: retry it."""
    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self, *args, **options):
        for attempt in range(6):
            try:
                return original(self, *args, **options)
            except CommandError as exc:
                if "deadlock" not in str(exc.__cause__ or "").lower() or attempt == 5:
                    raise
                time.sleep(0.5)
        return None

    flush.Command.handle = handle
    yield
    flush.Command.handle = original
LIVE_MEDIA_ROOT = ROOT / "var" / "test-media"


@pytest.fixture(autouse=True)
def _share_live_server_namespace(_isolated_cache_and_media, live_server_url, settings):
    """The test process publishes events (services called from a test) and
    reads presence the live server wrote: both must use the server's cache
    key prefix and channel-layer prefix."""
    import copy

    from channels.layers import channel_layers

    prefix = LIVE_NAMESPACE["prefix"]
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = prefix
    settings.CACHES = caches
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = prefix
    settings.CHANNEL_LAYERS = layers
    settings.MEDIA_ROOT = LIVE_MEDIA_ROOT
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.fixture(autouse=True)
def _browser_db(transactional_db):
    """Browser tests commit their rows so the server subprocess sees them."""


# --- the live server --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    """Base URL (no trailing slash) of the real ASGI app running on the test database."""
    from django.db import connection

    with django_db_blocker.unblock():
        db_url = _database_url(connection.settings_dict)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    run_id = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "DATABASE_URL": db_url,
        "DEBUG": "true",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "PUBLIC_URL": url,
        "ALLOWED_HOSTS": "*",
        "CSRF_TRUSTED_ORIGINS": url,
        # Own cache keys and channel groups: never mix with a `make run` on this machine.
        "CACHE_PREFIX": f"browser-{run_id}",
        "CHANNEL_PREFIX": f"browser-{run_id}",
        "LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        "FAST_PASSWORD_HASHER": "true",
        # One media folder for both processes: files a test saves are served.
        "MEDIA_ROOT": str(LIVE_MEDIA_ROOT),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    # The server's output stays in var/log/ after the run: read it when a browser test fails.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    log_path = ROOT / "var" / "log" / f"live-server{'-' + worker if worker else ''}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("w")
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--ws", "websockets-sansio", "--ws-per-message-deflate", "false", "--lifespan", "off"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def server_output() -> str:
        log.flush()
        return log_path.read_text(errors="replace")

    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not _answers(f"{url}/healthz"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            output = server_output()
            sys.stderr.write(f"\n--- live server output ({log_path}) ---\n{output}\n")
            pytest.fail(
                f"The live server did not answer {url}/healthz within {SERVER_START_TIMEOUT}s "
                f"(exit code {process.returncode}).\n{output[-4000:]}",
                pytrace=False,
            )
        time.sleep(0.2)

    LIVE_NAMESPACE["prefix"] = f"browser-{run_id}"
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# --- another origin ------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class OtherOrigin:
    """``serve(name, html) -> url`` on ``http://localhost:<port>``."""

    def __init__(self, directory: Path, port: int):
        self.directory = directory
        self.port = port
        self.base_url = f"http://localhost:{port}"

    def __call__(self, name: str, html: str) -> str:
        name = name.lstrip("/")
        path = (self.directory / name).resolve()
        if not path.is_relative_to(self.directory.resolve()):
            raise ValueError(f"{name!r} is outside the served folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        return f"{self.base_url}/{name}"


@pytest.fixture(scope="session")
def other_origin_url(tmp_path_factory) -> Iterator[OtherOrigin]:
    directory = tmp_path_factory.mktemp("other-origin")
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="other-origin", daemon=True)
    thread.start()
    try:
        yield OtherOrigin(directory, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


# --- Playwright -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(live_server_url):
    """One Chromium for the session. Depends on the live server so that it is
    closed before the server stops and the test database is dropped."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package ('apt-get install chromium') "
            "or set CHROMIUM_PATH. `make test` installs it when run as root.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, request) -> Iterator[Callable[..., object]]:
    """``new_page(**context_options)`` -> a page in a new browser context."""
    contexts = []
    pages = []

    def make(**options):
        context = browser.new_context(**{"viewport": VIEWPORT, **options})
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield make

    if request.node.stash.get(_FAILED, False):
        for index, page in enumerate(pages, 1):
            try:
                screenshot(page, f"FAILED-{request.node.name}-{index}")
            except Exception:  # a screenshot must not hide the failure
                pass
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()
