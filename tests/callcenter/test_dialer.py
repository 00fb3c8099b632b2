import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from callcenter import dialer, signing
from crm import roles
from tests.factories import CustomerFactory, UserFactory

from .conftest import SECRET
from .fake_ami import FakeAmi

pytestmark = pytest.mark.django_db

AMI_SECRET = "ami-secret"


class FakeCti:
    """A CTI middleware's originate endpoint on 127.0.0.1: records each request, answers `status`."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.received = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                fake.received.set()
                self.send_response(fake.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cti/originate"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)


@pytest.fixture
def cti(settings):
    fake = FakeCti()
    fake.thread.start()
    settings.CTI_DIALER = "generic"
    settings.CTI_ORIGINATE_URL = fake.url
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def pbx(settings):
    with FakeAmi(username="crm", secret=AMI_SECRET) as fake:
        settings.CTI_DIALER = "asterisk"
        settings.CTI_ASTERISK_HOST = "127.0.0.1"
        settings.CTI_ASTERISK_PORT = fake.port
        settings.CTI_ASTERISK_USERNAME = "crm"
        settings.CTI_ASTERISK_SECRET = AMI_SECRET
        yield fake


@pytest.fixture
def caller(rep):
    """A sales rep with a desk phone, calling their own customer."""
    rep.extension = "201"
    rep.save()
    return rep


def phone_of(customer):
    return customer.contact_points.get(kind="phone")


def dial(client, contact, *, customer=None, htmx=True):
    data = {"contact": contact.pk, "customer": (customer or contact.customer).pk}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("callcenter:dial"), data, **headers)


def test_the_generic_dialler_posts_a_signed_originate_request(login, caller, customer, cti):
    response = dial(login(caller), phone_of(customer))

    assert response.status_code == 200
    assert (
        "Calling…" in response.content.decode() and 'data-testid="dial-status"' in response.content.decode()
    )
    assert cti.received.wait(5)
    (request,) = cti.requests
    headers = request["headers"]
    assert request["path"] == "/cti/originate" and headers["content-type"] == "application/json"
    assert (
        signing.verify(SECRET, headers["x-crm-timestamp"], headers["x-crm-signature"], request["body"])
        is None
    )
    body = json.loads(request["body"])
    assert {key: body[key] for key in ("action", "extension", "number", "requested_by")} == {
        "action": "originate",
        "extension": "201",
        "number": "+886912345678",
        "requested_by": "rep",
    }
    assert uuid.UUID(body["request_id"])


def test_a_refusal_from_the_cti_middleware_is_shown_to_the_agent(login, caller, customer, cti):
    cti.status = 503
    response = dial(login(caller), phone_of(customer))
    assert response.status_code == 200
    assert "The phone system refused the call (HTTP 503)." in response.content.decode()


def test_an_unreachable_cti_middleware_is_shown_to_the_agent(login, caller, customer, settings):
    with FakeAmi() as closed:
        port = closed.port
    settings.CTI_DIALER = "generic"
    settings.CTI_ORIGINATE_URL = f"http://127.0.0.1:{port}/originate"
    response = dial(login(caller), phone_of(customer))
    assert "The phone system cannot be reached." in response.content.decode()


def test_without_a_configured_dialler_the_agent_is_told_to_ask_an_admin(login, caller, customer, settings):
    settings.CTI_ORIGINATE_URL = ""
    response = dial(login(caller), phone_of(customer))
    assert "Click-to-call is not set up" in response.content.decode()


def test_the_asterisk_dialler_originates_from_the_agents_phone_to_the_national_number(
    login, caller, customer, pbx
):
    response = dial(login(caller), phone_of(customer))

    assert "Calling…" in response.content.decode()
    (originate,) = pbx.originates()
    assert {key: originate[key] for key in ("Channel", "Context", "Exten", "Priority", "Async")} == {
        "Channel": "PJSIP/201",
        "Context": "from-internal",
        "Exten": "0912345678",
        "Priority": "1",
        "Async": "true",
    }
    assert originate["ActionID"]


@pytest.mark.parametrize(
    "dial_format, prefix, number, exten",
    [
        ("e164", "+", "0912-345-678", "+886912345678"),
        ("national", "+", "+86 138 0013 8000", "+8613800138000"),
        ("national", "002", "+86 138 0013 8000", "0028613800138000"),
        ("national", "+", "(02) 2345-6789", "0223456789"),
    ],
)
def test_the_number_is_dialled_in_the_pbxs_format(settings, dial_format, prefix, number, exten):
    from customers.normalise import phone_normalise

    settings.CTI_ASTERISK_DIAL_FORMAT = dial_format
    settings.CTI_ASTERISK_INTERNATIONAL_PREFIX = prefix
    assert dialer.dial_string(phone_normalise(number)[0]) == exten


def test_a_refused_originate_is_shown_to_the_agent(login, caller, customer, pbx):
    pbx.originate_error = "Extension does not exist."
    response = dial(login(caller), phone_of(customer))
    assert "The phone system refused the call: Extension does not exist." in response.content.decode()


def test_a_wrong_ami_secret_means_click_to_call_is_not_set_up(login, caller, customer, pbx, settings):
    settings.CTI_ASTERISK_SECRET = "wrong"
    response = dial(login(caller), phone_of(customer))
    assert "Click-to-call is not set up" in response.content.decode()
    assert pbx.originates() == []


def test_without_an_extension_nothing_is_sent(login, rep, customer, cti, pbx):
    response = dial(login(rep), phone_of(customer))
    assert "You have no phone extension yet" in response.content.decode()
    assert cti.requests == [] and pbx.originates() == []


def test_a_customer_the_user_cannot_see_cannot_be_called(login, caller, cti, other_team):
    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    hidden = CustomerFactory(owner=outsider, phones=["0987-654-321"])
    response = dial(login(caller), phone_of(hidden))
    assert response.status_code == 404 and "987" not in response.content.decode()
    assert cti.requests == []


def test_an_email_address_cannot_be_called(login, caller, customer, cti):
    response = dial(login(caller), customer.contact_points.get(kind="email"))
    assert "Only phone numbers can be called." in response.content.decode()
    assert cti.requests == []


def test_a_contact_posted_with_another_customer_is_refused(login, caller, customer, cti):
    other = CustomerFactory(owner=caller, phones=["0933-111-222"])
    response = dial(login(caller), phone_of(other), customer=customer)
    assert response.status_code == 404
    assert cti.requests == []


def test_users_who_do_not_handle_calls_cannot_dial(login, team, customer, cti):
    viewer = UserFactory(username="viewer", team=team, extension="301")
    response = dial(login(viewer), phone_of(customer))
    assert response.status_code == 403 and cti.requests == []


def test_without_javascript_the_button_brings_the_agent_back_to_the_customer(login, caller, customer, cti):
    client = login(caller)
    response = dial(client, phone_of(customer), htmx=False)
    assert response.status_code == 302 and response["Location"] == reverse(
        "customers:detail", args=[customer.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert "Calling…" in page


def test_the_customer_page_offers_a_call_button_per_phone_without_revealing_the_number(
    login, caller, rep, customer
):
    page = login(caller).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert page.count('data-testid="call-contact"') == 1, "one phone, one e-mail address"
    assert f'name="contact" value="{phone_of(customer).pk}"' in page
    assert "0912345678" not in page and "+886912345678" not in page


def test_no_call_button_without_an_extension(login, rep, customer):
    page = login(rep).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'data-testid="call-contact"' not in page
