"""The social inbox in a real browser: a LINE message arrives through the signed webhook, shows up live in
the open inbox and on the customer's 360 page, and the operator's reply reaches LINE (a fake server).

Served by uvicorn (ASGI) because the inbox's live stream is an async view; see `asgi_server`.
"""

import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from crm import roles
from social.models import Channel, Conversation
from social.providers import line
from tests.factories import TeamFactory, UserFactory
from tests.social.fake_line import FakeLine

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "browser-line-secret"
TOKEN = "browser-line-token"
USER_ID = "U4af4980629000000000000000000b0b"
STREAM_OPEN_FLAG = (
    "document.addEventListener('htmx:sseOpen', (e) => {"
    " if (e.target.closest && e.target.closest('[data-testid=inbox], [data-testid=conversations-panel-live]'))"
    " { window.inboxStreamOpen = true; } });"
)


@pytest.fixture(scope="module")
def line_server():
    server = FakeLine(access_token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def fake_line(line_server, settings, tmp_path):
    line_server.clear()
    settings.LINE_API_BASE = line_server.url
    settings.LINE_DATA_API_BASE = line_server.url
    settings.MEDIA_ROOT = tmp_path
    return line_server


@pytest.fixture
def page(asgi_page):
    asgi_page.context.add_init_script(STREAM_OPEN_FLAG)
    return asgi_page


@pytest.fixture
def channel(db):
    from social.webhooks import forget_channel_cache

    forget_channel_cache()
    channel = Channel(kind=Channel.Kind.LINE, name="Shop LINE", team=TeamFactory(name="Social team"))
    channel.set_credentials({"channel_secret": SECRET, "access_token": TOKEN})
    channel.save()
    return channel


def line_says(server_url, channel, text, *, event_id):
    """POST a message event to the running server exactly as LINE does (signed body)."""
    body = json.dumps(
        {
            "destination": "Ubot",
            "events": [
                {
                    "type": "message",
                    "mode": "active",
                    "timestamp": int(time.time() * 1000),
                    "source": {"type": "user", "userId": USER_ID},
                    "webhookEventId": event_id,
                    "deliveryContext": {"isRedelivery": False},
                    "replyToken": f"reply-{event_id}",
                    "message": {"id": event_id[-12:], "type": "text", "quoteToken": "q", "text": text},
                }
            ],
        },
        ensure_ascii=False,
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1, the test's own server
        f"{server_url}/webhooks/line/{channel.webhook_key}/",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Line-Signature": line.signature(SECRET, body)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200


def wait_stream_open(page):
    page.wait_for_function("window.inboxStreamOpen === true", timeout=10_000)


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the condition did not come true in time")
        time.sleep(0.05)  # polling a condition, not waiting for a fixed time


def test_a_line_message_appears_live_in_the_inbox_and_on_the_360_page_and_the_reply_reaches_line(
    page, log_in, asgi_server, channel, fake_line, screenshot
):
    manager = UserFactory(username="social-manager", role=roles.MANAGER, team=channel.team)
    channel.team.manager = manager
    channel.team.save()
    log_in(manager)
    page.goto("/inbox/?folder=all")
    expect(page.get_by_test_id("conversation-list")).to_contain_text("Nothing here")
    wait_stream_open(page)

    line_says(asgi_server.url, channel, "請問有門市嗎?", event_id="01HBROWSER00000000000000001")
    row = page.get_by_test_id("conversation-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("LINE user 0b0b")  # the profile LINE's API gave
    expect(row.get_by_test_id("unread")).to_have_text("1")

    row.click()
    thread = page.get_by_test_id("thread")
    expect(thread).to_contain_text("請問有門市嗎?")
    wait_stream_open(page)
    line_says(asgi_server.url, channel, "在台北嗎?", event_id="01HBROWSER00000000000000002")
    expect(thread).to_contain_text("在台北嗎?")

    page.get_by_test_id("reply-text").fill("有的,在信義區。")
    page.get_by_test_id("reply-send").click()
    expect(thread.locator("[data-testid=message][data-status=sent]")).to_contain_text("有的,在信義區。")
    wait_until(lambda: fake_line.calls("/v2/bot/message/reply") or fake_line.calls("/v2/bot/message/push"))
    sent = (fake_line.calls("/v2/bot/message/reply") + fake_line.calls("/v2/bot/message/push"))[0].json()
    assert sent["messages"] == [{"type": "text", "text": "有的,在信義區。"}]
    screenshot("social-inbox-thread")

    conversation = Conversation.objects.get()
    page.goto(f"/customers/{conversation.customer_id}/")
    expect(page.get_by_test_id("timeline")).to_contain_text("請問有門市嗎?")
    panel = page.get_by_test_id("conversations-panel")
    expect(panel).to_contain_text("有的,在信義區。")
    wait_stream_open(page)
    line_says(asgi_server.url, channel, "謝謝!", event_id="01HBROWSER00000000000000003")
    expect(panel).to_contain_text("謝謝!")
    screenshot("social-inbox-360")
