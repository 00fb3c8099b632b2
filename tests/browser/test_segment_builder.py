"""A sales rep builds a segment in the rule builder, watching the live count, then reads its members."""

import json

import pytest
from playwright.sync_api import expect

from customers.models import Segment
from tests.factories import CustomerFactory, TagFactory
from tickets.services import knowledge as kb

pytestmark = pytest.mark.browser


def test_rep_builds_a_segment_with_a_nested_or_group_and_a_live_count(log_in, page, rep):
    vip = TagFactory(name="VIP")
    CustomerFactory(name="王小明", owner=rep, tags=[vip], lifecycle_stage="customer")
    CustomerFactory(name="陳美玲", owner=rep, tags=[vip], lifecycle_stage="lead", source="LINE ad")
    CustomerFactory(name="Amy Cheng", owner=rep, lifecycle_stage="lead")
    log_in(rep)
    page.goto("/customers/segments/new/")
    count = page.get_by_test_id("segment-count")
    expect(count).to_contain_text("3")  # no conditions yet: everyone the rep may see

    page.get_by_test_id("add-rule").click()
    page.get_by_test_id("rule-field").first.select_option("tags")
    page.get_by_test_id("rule-row").first.locator("select[multiple]").select_option(label="VIP")
    expect(count).to_contain_text("2")

    page.get_by_test_id("add-group").first.click()  # an "any of" group
    page.get_by_test_id("rule-field").nth(1).select_option("lifecycle")
    page.get_by_test_id("rule-row").nth(1).locator("select[multiple]").select_option(label="Customer")
    page.get_by_test_id("add-rule").first.click()  # the nested group's own button comes first
    page.get_by_test_id("rule-field").nth(2).select_option("source")
    page.get_by_test_id("rule-op").nth(2).select_option("contains")
    page.get_by_test_id("rule-row").nth(2).locator("input").fill("line")
    expect(count).to_contain_text("2")
    page.get_by_test_id("rule-row").nth(2).locator("input").fill("facebook")
    expect(count).to_contain_text("1")

    page.fill("#id_name", "VIP customers")
    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("member-row")).to_have_count(1)
    expect(page.get_by_test_id("member-row")).to_contain_text("王小明")
    rules = Segment.objects.get().rules
    assert rules["rules"][1]["match"] == "any" and len(rules["rules"][1]["rules"]) == 2
    assert json.dumps(rules)  # stored as plain JSON


def test_agent_inserts_a_filled_in_canned_reply_into_the_ticket_reply(log_in, page, manager, rep, customer):
    from tickets import services

    kb.canned_reply_save(
        actor=manager, title="Greeting", shortcut="hi", body="{{ customer.first_name }} 您好!"
    )
    ticket = services.ticket_create(actor=rep, customer=customer, subject="無法登入")
    log_in(rep)
    page.goto(f"/tickets/{ticket.pk}/")
    page.get_by_test_id("reply-body").fill("Hi. ")
    page.get_by_test_id("canned-picker").locator("summary").click()
    page.get_by_test_id("canned-option").first.click()
    expect(page.get_by_test_id("reply-body")).to_have_value("Hi. 小明 您好!")
