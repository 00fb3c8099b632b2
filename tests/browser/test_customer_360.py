"""A sales rep's day on the customer 360 page, in a real browser."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.browser

HISTORY_LENGTH = 45
HISTORY_CHANNELS = [("call", "phone"), ("message_in", "line"), ("message_out", "wechat")]


@pytest.fixture
def history(customer):
    """45 interactions one hour apart, newest first: "History #01" … "History #45"."""
    newest = timezone.now() - dt.timedelta(minutes=5)
    for number in range(1, HISTORY_LENGTH + 1):
        kind, channel = HISTORY_CHANNELS[number % len(HISTORY_CHANNELS)]
        InteractionFactory(
            customer=customer,
            kind=kind,
            channel=channel,
            summary=f"History #{number:02d}",
            occurred_at=newest - dt.timedelta(hours=number),
        )
    return [f"History #{number:02d}" for number in range(1, HISTORY_LENGTH + 1)]


@pytest.fixture
def another_customer(rep):
    return CustomerFactory(name="陳美玲", owner=rep, phones=["0922-000-111"])


def test_rep_finds_caller_by_phone_in_another_format_and_adds_a_note(
    log_in, rep, customer, another_customer, history, screenshot
):
    page = log_in(rep)
    expect(page.get_by_test_id("customer-link")).to_have_count(2)

    page.get_by_test_id("customer-search").fill("+886 912 345 678")

    expect(page.get_by_test_id("customer-link")).to_have_count(1)
    expect(page.get_by_test_id("customer-link")).to_have_text("王小明")
    expect(page).to_have_url(re.compile(r"[?&]q=%2B886"))

    page.get_by_test_id("customer-link").click()
    page.wait_for_load_state()

    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("王小明")
    entries = page.get_by_test_id("timeline-entry")
    expect(entries).to_have_count(20)
    page.evaluate("window.stillTheSamePage = true")

    note = "Called back about the renewal quote.\nWants it by Friday."
    page.get_by_test_id("note-text").fill(note)
    page.get_by_test_id("note-save").click()

    expect(entries).to_have_count(21)
    expect(entries.first.locator(".timeline-body")).to_have_text(note)
    expect(entries.first.locator(".timeline-meta")).to_contain_text(str(rep))
    expect(entries.nth(1).locator(".timeline-body")).to_have_text("History #01")
    expect(page.get_by_test_id("note-text")).to_have_value("")
    assert page.evaluate("window.stillTheSamePage") is True, "adding a note reloaded the page"

    screenshot("customer_360")


def test_timeline_loads_more_history(log_in, rep, customer, history):
    page = log_in(rep)
    page.goto(f"/customers/{customer.pk}/")
    entries = page.get_by_test_id("timeline-entry")
    load_more = page.get_by_test_id("timeline-more")

    expect(entries).to_have_count(20)
    expect(entries.last.locator(".timeline-body")).to_have_text("History #20")

    load_more.click()
    expect(entries).to_have_count(40)
    expect(entries.last.locator(".timeline-body")).to_have_text("History #40")

    load_more.click()
    expect(entries).to_have_count(45)
    expect(load_more).to_have_count(0)
    assert entries.locator(".timeline-body").all_inner_texts() == history


def test_switching_to_traditional_chinese_translates_the_page(log_in, rep, customer, history, screenshot):
    page = log_in(rep)
    page.goto(f"/customers/{customer.pk}/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_test_id("language-switcher").select_option("zh-hant")

    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))
    expect(page.get_by_test_id("language-switcher")).to_have_value("zh-hant")
    expect(page.get_by_test_id("timeline-entry")).to_have_count(20)
    screenshot("customer_360_zh-hant")

    navbar_customers = page.locator("#main-nav .navbar-nav .nav-link").first
    timeline_header = page.locator("section.app-card", has=page.get_by_test_id("timeline")).locator(
        ".app-card-header > span"
    )
    expect(navbar_customers).to_have_text("客戶")
    expect(timeline_header).to_have_text("時間軸")
