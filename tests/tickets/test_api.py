"""POST /api/v1/tickets/ and the list and detail endpoints, with the pages' permissions."""

import json

import pytest
from rest_framework.authtoken.models import Token

from crm import roles
from customers.models import CustomerLookup
from tests.factories import CustomerFactory, UserFactory
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


def post_json(client, data):
    return client.post(URL, data, content_type="application/json")


@pytest.fixture
def stranger(other_team):
    owner = UserFactory(username="far-owner", role=roles.SALES_REP, team=other_team)
    return CustomerFactory(name="陌生人 Stranger", owner=owner, phones=["0987-654-321"])


def test_create_by_customer_id(login, rep, customer):
    response = post_json(
        login(rep), {"customer": customer.pk, "subject": "Refund", "priority": "high", "tags": ["refund"]}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    ticket = Ticket.objects.get()
    assert body["id"] == ticket.pk and body["number"] == ticket.number
    assert body["customer"] == {"id": customer.pk, "name": "王小明"}
    assert body["priority"] == "high" and body["status"] == "new" and body["source"] == "web"
    assert body["tags"] == ["refund"] and body["sla"]["state"] in ("ok", "none")
    assert body["comments"] == []


def test_create_by_phone_number_in_any_format(login, rep, customer):
    response = post_json(login(rep), {"phone": "+886 912 345 678", "subject": "Where is my parcel?"})
    assert response.status_code == 201 and Ticket.objects.get().customer == customer


def test_an_agent_creating_by_phone_gets_the_caller_like_a_lookup(login, agent, customer):
    response = post_json(
        login(agent), {"phone": "0912345678", "subject": "Caller question", "source": "phone"}
    )
    assert response.status_code == 201
    assert CustomerLookup.objects.filter(user=agent, customer=customer).exists()


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"subject": "No customer"}, "customer", "Give the customer's id or phone number."),
        (
            {"customer": 999999, "subject": "Nobody"},
            "customer",
            "No customer found, or you do not have access to it.",
        ),
        (
            {"phone": "0900-000-000", "subject": "Unknown"},
            "phone",
            "No customer you can see has this number.",
        ),
        ({"phone": "abc", "subject": "Bad number"}, "phone", None),
        ({"customer": "CUSTOMER", "subject": "x"}, "customer", None),
        ({"customer": "{pk}"}, "subject", "Enter a subject."),
        ({"customer": "{pk}", "subject": "   "}, "subject", "Enter a subject."),
        ({"customer": "{pk}", "subject": "x" * 201}, "subject", None),
        (
            {"customer": "{pk}", "subject": "x", "priority": "asap"},
            "priority",
            "One of: low, normal, high, urgent.",
        ),
        ({"customer": "{pk}", "subject": "x", "source": "fax"}, "source", None),
        ({"customer": "{pk}", "subject": "x", "category": 999999}, "category", None),
        ({"customer": "{pk}", "subject": "x", "tags": "not a list"}, "tags", None),
        ({"customer": "{pk}", "subject": "x", "custom_fields": {"a": {"nested": 1}}}, "custom_fields", None),
        ({"customer": "{pk}", "subject": "x\u0000"}, "subject", None),
    ],
)
def test_bad_input_gets_field_errors_and_creates_nothing(login, rep, customer, payload, field, message):
    payload = {k: (customer.pk if v == "{pk}" else v) for k, v in payload.items()}
    response = post_json(login(rep), payload)
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    if message:
        assert message in errors[field]
    assert not Ticket.objects.exists()


def test_assigning_to_someone_else_needs_the_permission(login, rep, other_rep, manager, customer):
    response = post_json(login(rep), {"customer": customer.pk, "subject": "x", "assignee": other_rep.pk})
    assert response.status_code == 400 and "assignee" in response.json()
    response = post_json(login(manager), {"customer": customer.pk, "subject": "x", "assignee": other_rep.pk})
    assert response.status_code == 201 and response.json()["assignee"] == "other-rep"


def test_a_customer_the_user_cannot_see_is_refused_like_a_missing_one(login, rep, stranger):
    response = post_json(login(rep), {"customer": stranger.pk, "subject": "Peek"})
    assert response.status_code == 400 and "customer" in response.json()
    response = post_json(login(rep), {"phone": "0987-654-321", "subject": "Peek"})
    assert response.status_code == 400 and "phone" in response.json()


def test_malformed_json_is_a_400(login, rep):
    response = login(rep).post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_without_a_role_the_api_refuses(login, team, customer):
    nobody = UserFactory(username="nobody", team=team)
    client = login(nobody)
    assert client.get(URL).status_code == 403
    assert post_json(client, {"customer": customer.pk, "subject": "x"}).status_code == 403


def test_anonymous_clients_are_refused(client):
    assert client.get(URL).status_code in (401, 403)


def test_list_and_detail_show_only_visible_tickets(login, rep, customer, stranger):
    mine = services.ticket_create(actor=rep, customer=customer, subject="Mine")
    theirs = services.ticket_create(actor=stranger.owner, customer=stranger, subject="Theirs")
    client = login(rep)

    listing = client.get(URL).json()
    assert [t["subject"] for t in listing["results"]] == ["Mine"]
    assert client.get(f"{URL}{mine.pk}/").status_code == 200
    assert client.get(f"{URL}{theirs.pk}/").status_code == 404


def test_list_filters(login, rep, customer):
    first = services.ticket_create(actor=rep, customer=customer, subject="Printer jammed", assignee=rep)
    services.ticket_create(actor=rep, customer=customer, subject="Invoice wrong", priority="urgent")
    client = login(rep)
    assert [t["id"] for t in client.get(URL, {"assignee": "me"}).json()["results"]] == [first.pk]
    assert [t["subject"] for t in client.get(URL, {"priority": "urgent"}).json()["results"]] == [
        "Invoice wrong"
    ]
    assert [t["subject"] for t in client.get(URL, {"q": f"#{first.number}"}).json()["results"]] == [
        "Printer jammed"
    ]
    assert client.get(URL, {"status": "nonsense"}).status_code == 400
    assert client.get(URL, {"assignee": "somebody"}).status_code == 400


def test_detail_has_the_thread_with_internal_notes_marked(login, rep, customer):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Thread")
    services.ticket_reply(ticket=ticket, actor=rep, body="Public answer")
    services.ticket_reply(ticket=ticket, actor=rep, body="Staff only", internal=True)
    body = login(rep).get(f"{URL}{ticket.pk}/").json()
    assert [(c["body"], c["internal"]) for c in body["comments"]] == [
        ("Public answer", False),
        ("Staff only", True),
    ]


def test_token_clients_create_tickets_too(client, rep, customer):
    token = Token.objects.create(user=rep)
    response = client.post(
        URL,
        json.dumps({"customer": customer.pk, "subject": "From the web form"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.status_code == 201


def test_the_schema_describes_the_tickets_endpoints(login, rep):
    schema = login(rep).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "post" in schema["paths"]["/api/v1/tickets/"] and "get" in schema["paths"]["/api/v1/tickets/{id}/"]
