"""Real-browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server,
or against the app under uvicorn (`asgi_server`, `asgi_page`) for pages that hold a live stream open."""

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import uvicorn
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from django.db import connections
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

# Playwright's sync API keeps an asyncio loop on the main thread, and Django refuses ORM calls
# (factories, the live server's database flush) while it sees one.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "pass-word-123"
SHARED_SCREENS = Path("/tmp/screens")  # noqa: S108 - a fixed place to look at them, only when SCREENSHOTS=1


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module; each test gets its own context (cookies, storage)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium fonts-noto-cjk); "
            "the browser tests drive it and `playwright install` cannot download browsers here.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as exc:
            pytest.fail(f"{CHROMIUM} is installed but did not start: {exc}", pytrace=False)
        yield chromium
        chromium.close()
        # While Playwright's loop runs, Django keeps this thread's connections apart; close those.
        connections.close_all()


@pytest.fixture(autouse=True)
def roles(seed_data):
    """Live-server tests flush the database; put the roles and other seeded rows back first.

    serialized_rollback cannot do it: while Playwright's loop runs, Django's connections are not the
    ones that hold the serialized contents.
    """


@contextmanager
def _fresh_page(browser, base_url):
    """A fresh page in a fresh context, in English whatever the machine's locale."""
    context = browser.new_context(
        base_url=base_url,
        locale="en-US",
        timezone_id="Asia/Taipei",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh page in a fresh context, in English whatever the machine's locale."""
    with _fresh_page(browser, live_server.url) as page:
        yield page


@pytest.fixture
def asgi_server(transactional_db, monkeypatch):
    """The app under uvicorn in a thread of this process, as production serves it (ASGI).

    pytest-django's live server is WSGI and cannot hold the async server-sent-events stream open.
    The server shares the test database, so the test's rows must be committed: transactional_db.
    """
    from crm import pubsub

    # Pub/sub channels are global to a Redis server whatever the database number; keep this run's
    # cards away from other test runs on the machine that use the same user ids.
    monkeypatch.setattr(pubsub, "PREFIX", f"{pubsub.PREFIX}test-{os.getpid()}:")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))  # a free port, held until uvicorn listens on it: no race
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            ASGIStaticFilesHandler(get_asgi_application()),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="uvicorn", daemon=True)
    thread.start()
    try:
        _wait_until_accepting(port, thread, deadline=time.monotonic() + 10)
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", port=port)
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()
    assert not thread.is_alive(), "uvicorn did not stop within 10 s"


def _wait_until_accepting(port, thread, *, deadline):
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if not thread.is_alive():
                pytest.fail("uvicorn stopped before accepting connections; see its log above")
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not accept connections on port {port} within 10 s")
            thread.join(0.05)  # a short pause that ends at once if the server thread died


@pytest.fixture
def asgi_page(browser, asgi_server):
    """Like `page`, against `asgi_server`."""
    with _fresh_page(browser, asgi_server.url) as page:
        yield page


@pytest.fixture
def log_in(page):
    """Log in through the real login form, as a user would."""

    def log_in_as(user):
        page.goto("/accounts/login/")
        page.locator("#id_username").fill(user.username)
        page.locator("#id_password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("customer-search")).to_be_visible()
        page.wait_for_load_state()  # htmx is a deferred script: let it start before typing
        return page

    return log_in_as


@pytest.fixture
def screenshot(page, tmp_path):
    """Save a full-page screenshot into tmp_path, and into /tmp/screens/ when SCREENSHOTS=1."""

    def take(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        if os.environ.get("SCREENSHOTS") == "1":
            SHARED_SCREENS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SHARED_SCREENS / path.name)
        return path

    return take


@pytest.fixture
def element_screenshot(page, tmp_path):
    """Save a screenshot of one element with a margin around it (its shadow, what is next to it), into
    tmp_path, and into /tmp/screens/ when SCREENSHOTS=1."""

    def take(name: str, locator, *, margin: int = 24) -> Path:
        box = locator.bounding_box()
        viewport = page.viewport_size
        left, top = max(0, box["x"] - margin), max(0, box["y"] - margin)
        clip = {
            "x": left,
            "y": top,
            "width": min(viewport["width"], box["x"] + box["width"] + margin) - left,
            "height": min(viewport["height"], box["y"] + box["height"] + margin) - top,
        }
        path = tmp_path / f"{name}.png"
        page.screenshot(path=path, clip=clip)
        if os.environ.get("SCREENSHOTS") == "1":
            SHARED_SCREENS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SHARED_SCREENS / path.name)
        return path

    return take
