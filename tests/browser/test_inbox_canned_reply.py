"""In the social inbox, an agent picks a canned reply and it lands in the reply box filled in for the
conversation's customer."""

import pytest
from playwright.sync_api import expect

from crm import roles
from social.models import Channel
from tests.factories import TeamFactory, UserFactory
from tests.social.inbox_factories import conversation_for
from tickets.models import CannedReply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_canned_reply_is_inserted_into_the_inbox_reply_box_filled_in(page, log_in, screenshot):
    team = TeamFactory(name="Social team")
    channel = Channel(kind=Channel.Kind.LINE, name="Shop LINE", team=team)
    channel.set_credentials({"channel_secret": "s", "access_token": "t"})
    channel.save()
    admin = UserFactory(username="boss", role=roles.ADMIN, team=team)
    CannedReply.objects.create(
        title="Opening hours", shortcut="hours", body="{{ customer.name }} 您好,我們每天 9 點開門。"
    )
    conversation = conversation_for(channel, messages=["請問營業時間?"], customer_name="林小美", team=team)

    log_in(admin)
    page.goto(f"/inbox/{conversation.pk}/")
    page.get_by_test_id("canned-picker").locator("summary").click()
    option = page.get_by_test_id("canned-option").first
    expect(option).to_contain_text("林小美 您好")
    screenshot("inbox-canned-picker")
    option.click()

    expect(page.get_by_test_id("reply-text")).to_have_value("林小美 您好,我們每天 9 點開門。")
