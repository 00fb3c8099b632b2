"""An admin connects a LINE official account, and a follower's message reaches the customer's 360 page."""

import urllib.request

import pytest
from playwright.sync_api import expect

from social.models import Channel, Conversation
from social.providers import line
from tests.social.conftest import _fake_line_server, fake_line, line_fixture  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_admin_connects_a_line_account_and_a_followers_message_appears_on_the_360_page(
    log_in,
    page,
    live_server,
    admin_user,
    team,
    fake_line,  # noqa: F811 - the fixture imported above
    screenshot,
):
    log_in(admin_user)
    page.goto("/social/channels/")
    expect(page.get_by_text("No channels yet")).to_be_visible()
    page.get_by_test_id("new-line-channel").click()
    page.get_by_label("Name").fill("Taipei store")
    page.get_by_label("Channel secret").fill("browser-secret")
    page.get_by_label("Channel access token (long-lived)").fill("test-access-token")
    page.get_by_role("button", name="Create channel").click()

    channel = Channel.objects.get()
    url_field = page.get_by_test_id("webhook-url")
    expect(url_field).to_have_value(f"{live_server.url}/webhooks/line/{channel.webhook_key}/")
    expect(page.get_by_test_id("credential-status")).to_contain_text("channel_secret: set")
    expect(page.locator("body")).not_to_contain_text("browser-secret")
    page.get_by_test_id("test-connection").click()
    expect(page.get_by_test_id("connection-result")).to_contain_text("Connected to Demo shop (@123abcde)")
    screenshot("social-channel-detail")

    body = line_fixture("message_text")
    request = urllib.request.Request(  # noqa: S310 - the live server
        f"{live_server.url}{channel.webhook_path}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "x-line-signature": line.signature("browser-secret", body),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the live server
        assert answer.status == 200

    customer = Conversation.objects.get().customer
    page.goto(f"/customers/{customer.pk}/")
    panel = page.get_by_test_id("panel-conversations")
    expect(panel).to_contain_text("Hello, I want the price list")
    expect(panel).to_contain_text("Taipei store")
    screenshot("social-360-panel")
