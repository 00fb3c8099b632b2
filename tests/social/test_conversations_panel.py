import pytest
from django.urls import reverse

from social.models import Conversation

pytestmark = pytest.mark.django_db


def test_the_360_page_shows_the_customers_recent_line_messages(
    login, admin_user, post_line, line_channel, fake_line
):
    post_line(line_channel, "message_text")
    post_line(line_channel, "message_sticker")
    customer = Conversation.objects.get().customer
    page = login(admin_user).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'data-testid="conversations-panel"' in page
    assert "Hello, I want the price list" in page and "Sticker" in page


def test_the_panel_costs_the_same_queries_for_one_or_many_messages(
    login, admin_user, post_line, line_channel, fake_line
):
    import json

    from .conftest import line_events

    post_line(line_channel, "message_text")
    customer = Conversation.objects.get().customer
    client = login(admin_user)
    url = reverse("customers:detail", args=[customer.pk])
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get(url)
    events = [dict(line_events("message_text")[0], webhookEventId=f"01MANY{n:020d}") for n in range(30)]
    post_line(line_channel, json.dumps({"destination": "x", "events": events}).encode())
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(one.captured_queries) > 0
    assert len(many.captured_queries) == len(one.captured_queries)


def test_someone_who_cannot_see_the_customer_gets_no_panel_content(rep, post_line, line_channel, fake_line):
    from social.selectors import customer_conversations

    post_line(line_channel, "message_text")
    customer = Conversation.objects.get().customer
    assert customer_conversations(user=rep, customer=customer) == []
