"""Real-browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server."""

import os
import shutil
from pathlib import Path

import pytest
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


@pytest.fixture
def page(browser, live_server):
    """A fresh page in a fresh context, in English whatever the machine's locale."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="en-US",
        timezone_id="Asia/Taipei",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


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
