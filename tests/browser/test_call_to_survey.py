"""From a phone call to a satisfied customer, in a real browser: the agent wraps up a call with "Open a
ticket", answers and solves the ticket, the customer gets the survey e-mail and answers it through the
link without logging in, and the agent sees the rating on the ticket."""

import os
import re
import shutil

import pytest
from django.core import mail
from playwright.sync_api import expect

from tickets.models import CsatSurvey, Ticket

from .conftest import SHARED_SCREENS, _fresh_page
from .test_screen_pop import SECRET, STREAM_OPEN_FLAG, pbx, wait_for_live_stream  # noqa: F401 - pbx is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def site(settings, asgi_server):
    settings.CTI_SHARED_SECRET = SECRET
    settings.TICKETS_SITE_URL = asgi_server.url  # links in e-mails point at the running server


@pytest.fixture
def page(asgi_page):
    asgi_page.context.add_init_script(STREAM_OPEN_FLAG)
    return asgi_page


def test_a_call_becomes_a_ticket_that_is_solved_and_rated_by_the_customer(
    log_in,
    agent,
    customer,
    pbx,  # noqa: F811 - the fixture imported above
    browser,
    asgi_server,
    screenshot,
    tmp_path,  # noqa: F811
):
    page = log_in(agent)
    wait_for_live_stream(page)

    pbx.send("call-csat", "ringing")
    card = page.get_by_test_id("call-card")
    expect(card.get_by_test_id("call-customer")).to_have_text("王小明")
    pbx.send("call-csat", "answered", after_seconds=3)
    pbx.send("call-csat", "ended", after_seconds=80)
    form = card.get_by_test_id("wrap-up-form")
    form.get_by_test_id("wrap-up-note").fill("Parcel arrived damaged; a replacement will be sent.")
    form.get_by_label("Open a ticket").check()
    form.get_by_test_id("wrap-up-save").click()
    expect(page.get_by_test_id("wrap-up-done")).to_have_text("Wrap-up saved.")

    ticket = Ticket.objects.get(customer=customer)
    assert ticket.source == Ticket.Source.PHONE
    page.goto(f"/tickets/{ticket.pk}/")
    expect(page.get_by_test_id("ticket-origin")).to_contain_text("From the call of")
    page.get_by_test_id("reply-body").fill("The replacement is on its way; tracking number TW123.")
    page.get_by_label("Then set status").select_option(label="Solved")
    page.get_by_test_id("reply-send").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("Solved")
    expect(page.get_by_test_id("ticket-csat")).to_contain_text("Survey sent by E-mail")

    [survey_mail] = [m for m in mail.outbox if m.to == ["wang@example.com"]]
    link = next(line.split(": ", 1)[1] for line in survey_mail.body.splitlines() if line.startswith("5: "))
    assert link.startswith(asgi_server.url)

    with _fresh_page(browser, asgi_server.url) as customer_page:  # the customer's phone: not logged in
        customer_page.set_viewport_size({"width": 390, "height": 844})
        customer_page.goto(link)
        expect(customer_page.locator("#rating-5")).to_be_checked()
        customer_page.get_by_test_id("csat-comment").fill("Fast and friendly, thank you!")
        customer_page.screenshot(path=tmp_path / "csat_survey_mobile.png", full_page=True)
        if os.environ.get("SCREENSHOTS") == "1":
            SHARED_SCREENS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / "csat_survey_mobile.png", SHARED_SCREENS / "csat_survey_mobile.png")
        customer_page.get_by_test_id("csat-submit").click()
        expect(customer_page.get_by_test_id("csat-thanks")).to_contain_text("You rated us 5 of 5.")

    survey = CsatSurvey.objects.get(ticket=ticket)
    assert (survey.rating, survey.agent_id) == (5, ticket.assignee_id)
    page.reload()
    panel = page.get_by_test_id("ticket-csat")
    expect(panel.get_by_test_id("csat-rating")).to_have_text("5 of 5")
    expect(panel.get_by_test_id("csat-comment")).to_have_text(re.compile("Fast and friendly"))
    screenshot("ticket_with_csat")
