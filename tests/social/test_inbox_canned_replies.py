"""The inbox reply box offers canned replies, filled in for the conversation's customer."""

import pytest
from django.urls import reverse

from tickets.models import CannedReply

from .inbox_factories import conversation_for

pytestmark = pytest.mark.django_db


def test_the_reply_box_offers_canned_replies_filled_in_for_the_conversations_customer(
    login, admin_user, line_channel
):
    CannedReply.objects.create(
        title="Greeting", shortcut="hi", body="您好 {{ customer.name }},我是 {{ agent.name }}。"
    )
    conversation = conversation_for(line_channel, messages=["請問營業時間?"], customer_name="林小美")
    client = login(admin_user)

    page = client.get(f"/inbox/{conversation.pk}/").content.decode()

    assert 'data-testid="canned-picker"' in page
    picker = reverse("tickets:canned-picker")
    picker_url = f"{picker}?target=reply-text-{conversation.pk}&customer={conversation.customer_id}"
    assert picker_url in page
    options = client.get(
        reverse("tickets:canned-picker"),
        {"target": f"reply-text-{conversation.pk}", "customer": conversation.customer_id},
    ).content.decode()
    assert f'data-canned-target="reply-text-{conversation.pk}"' in options
    assert "您好 林小美" in options
