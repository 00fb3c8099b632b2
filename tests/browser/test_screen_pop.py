"""A call-centre agent's screen-pop in a real browser: the PBX posts call events, the caller card appears
on the agent's open page over the live stream, and the wrap-up lands on the customer's timeline.

The pages are served by uvicorn (ASGI) because the stream is an async view; see `asgi_server`.
"""

import datetime as dt
import json
import re
import time
import urllib.request
from urllib.error import HTTPError

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from callcenter import signing
from callcenter.models import Call

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "browser-test-cti-secret"

# Set before any page script runs: lets a test wait until the live stream is connected, so that an
# event posted afterwards is known to arrive live rather than as the state sent on (re)connection.
STREAM_OPEN_FLAG = "document.addEventListener('htmx:sseOpen', () => { window.callStreamOpen = true; });"


@pytest.fixture(autouse=True)
def cti_secret(settings):
    settings.CTI_SHARED_SECRET = SECRET


@pytest.fixture
def page(asgi_page):
    """Every page of this module is served by uvicorn; `log_in` and `screenshot` use it too."""
    asgi_page.context.add_init_script(STREAM_OPEN_FLAG)
    return asgi_page


@pytest.fixture
def pbx(asgi_server):
    """Posts signed call events to the running server the way a PBX does."""

    class Pbx:
        def __init__(self):
            self.started = timezone.now()

        def send(self, call_id, event, *, caller="0912-345-678", extension="101", after_seconds=0):
            payload = {
                "call_id": call_id,
                "event": event,
                "direction": "inbound",
                "from": caller,
                "to": "02-2345-6789",
                "extension": extension,
                "occurred_at": (self.started + dt.timedelta(seconds=after_seconds)).isoformat(),
            }
            body = json.dumps(payload).encode()
            timestamp = str(int(time.time()))
            request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1, the test's own server
                f"{asgi_server.url}/api/v1/cti/events/",
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "X-CRM-Timestamp": timestamp,
                    "X-CRM-Signature": signing.sign(settings.CTI_SHARED_SECRET, timestamp, body),
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    assert response.status == 202, response.read()
            except HTTPError as exc:
                pytest.fail(f"the API refused the {event} event: {exc.code} {exc.read()!r}")

    return Pbx()


def wait_for_live_stream(page):
    page.wait_for_function("window.callStreamOpen === true")


def test_the_caller_card_pops_up_and_the_wrap_up_lands_on_the_timeline(
    log_in, agent, customer, pbx, screenshot, element_screenshot
):
    page = log_in(agent)
    wait_for_live_stream(page)
    pop = page.get_by_test_id("call-pop")
    card = pop.get_by_test_id("call-card")
    expect(card).to_have_count(0)

    pbx.send("call-1", "ringing")

    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-state", "ringing")
    expect(card).to_contain_text("Incoming call")
    expect(card.get_by_test_id("call-customer")).to_have_text("王小明")
    expect(card.get_by_test_id("call-number")).to_have_text("+886 ••• ••• 678")
    expect(card.locator(".badge", has_text="VIP")).to_be_visible()
    expect(card.get_by_test_id("wrap-up-form")).to_have_count(0)
    screenshot("screen_pop_ringing")
    element_screenshot("call_card_ringing", card)

    pbx.send("call-1", "answered", after_seconds=4)
    expect(card).to_have_attribute("data-state", "answered")
    expect(card).to_contain_text("On the call")
    pbx.send("call-1", "ended", after_seconds=95)
    expect(card).to_have_attribute("data-state", "ended")
    expect(card).to_contain_text("Call ended")

    form = card.get_by_test_id("wrap-up-form")
    expect(form).to_be_visible()
    form.get_by_test_id("wrap-up-note").fill("Parcel arrived damaged; sending a replacement.")
    form.get_by_label("Disposition").select_option(label="Needs follow-up")
    form.get_by_label("Follow-up task").check()
    element_screenshot("call_card_wrap_up", card)
    form.get_by_test_id("wrap-up-save").click()

    expect(pop.get_by_test_id("wrap-up-done")).to_have_text("Wrap-up saved.")
    expect(pop.get_by_test_id("wrap-up-form")).to_have_count(0)
    element_screenshot("call_card_wrapped_up", pop.get_by_test_id("call-card"))

    pop.get_by_test_id("call-customer").click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))
    bodies = page.get_by_test_id("timeline-entry").locator(".timeline-body")
    expect(bodies).to_contain_text(
        [
            "Follow-up task: Follow up on the call with 王小明",
            "Parcel arrived damaged; sending a replacement.",
            re.compile(r"^Inbound call, 1 min 31 s$"),
        ]
    )
    call = Call.objects.get(call_id="call-1")
    assert call.agent == agent and call.disposition.name == "Needs follow-up"


def test_an_unknown_caller_can_be_added_with_the_number_filled_in(log_in, agent, pbx, element_screenshot):
    page = log_in(agent)
    wait_for_live_stream(page)

    pbx.send("call-2", "ringing", caller="+886 933 111 222")

    card = page.get_by_test_id("call-card")
    expect(card.get_by_test_id("call-unknown")).to_have_text("No customer has this number.")
    expect(card.get_by_test_id("call-number")).to_have_text("+886 ••• ••• 222")
    new_customer = card.get_by_test_id("call-new-customer")
    expect(new_customer).to_have_text("New customer")
    element_screenshot("call_card_unknown_number", card)
    new_customer.click()

    expect(page).to_have_url(re.compile(r"/customers/new/\?phone=%2B886933111222$"))
    expect(page.locator("[name=phones]")).to_have_value("+886933111222")


def test_the_card_is_shown_again_after_a_reconnect(log_in, agent, customer, pbx):
    page = log_in(agent)
    page.goto("about:blank")  # the agent's tab lost its connection

    pbx.send("call-3", "ringing", caller="886912345678")

    page.goto("/customers/")
    card = page.get_by_test_id("call-card")
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-state", "ringing")
    expect(card.get_by_test_id("call-customer")).to_have_text("王小明")
